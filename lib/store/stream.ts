/**
 * What every stored instrument shares: its metric stream (the name and
 * description a View may have changed, the unit, the instrument type that a
 * reader's temporality and aggregation selectors are asked about) and the
 * clock the store stamps start times with.
 */
import type { Attributes, ValueType } from '@opentelemetry/api';
import { withAttribute } from '../core/recorder';
import type { InstrumentType, MetricDescriptor } from '@opentelemetry/sdk-metrics';

export interface Stream {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly valueType: ValueType;
  readonly type: InstrumentType;
  /** The descriptor handed to readers (one object, reused by every collection). */
  readonly descriptor: MetricDescriptor;
}

export function stream(name: string, description: string, unit: string, valueType: ValueType, type: InstrumentType): Stream {
  return Object.freeze({ name, description, unit, valueType, type, descriptor: Object.freeze({ name, description, unit, valueType }) });
}

export interface StoredInstrument {
  readonly kind: 'histogram' | 'sum' | 'observed';
  readonly stream: Stream;
}

/** Milliseconds since the epoch on the monotonic clock, as the SDK's hrTime() reads it. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A stored series' attributes: a frozen set, or a set plus one key and value
 * built when read (see core/recorder.ts cellWith: the parts are two pointers,
 * the built set ~56 B, and only exporters read it).
 */
export class Labelled {
  constructor(
    private readonly _base: Attributes,
    private readonly _key: string | undefined,
    private readonly _value: string | undefined,
  ) {}

  get attributes(): Attributes {
    return this._key === undefined ? this._base : withAttribute(this._base, this._key, this._value!);
  }
}
