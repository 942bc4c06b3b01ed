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
 * A stored series' attributes: a frozen set, or a set plus one value under
 * the instrument's one extra key, built when read (core/recorder.ts cellWith:
 * the parts are two pointers, a built set ~56 B, and only exporters read it).
 * The key, and the instrument a cell records into, live on the prototype of a
 * cell class made per instrument, not in every cell: 16 B a series.
 */
export class Labelled {
  declare readonly _key: string;
  constructor(
    private readonly _base: Attributes,
    private readonly _value: string | undefined,
  ) {}

  get attributes(): Attributes {
    return this._value === undefined ? this._base : withAttribute(this._base, this._key, this._value);
  }
}

/** A subclass of `base` whose prototype carries `instrument`, and `_key` once setKey() is called. */
export function cellClass<T extends abstract new (...args: never[]) => Labelled>(base: T, instrument: object): T & { setKey(key: string): void } {
  // An anonymous class per instrument: call sites see one shape per instrument.
  const Cell = class extends (base as unknown as new (...args: unknown[]) => Labelled) {};
  Object.defineProperty(Cell.prototype, 'instrument', { value: instrument });
  return Object.assign(Cell, {
    setKey(key: string) {
      Object.defineProperty(Cell.prototype, '_key', { value: key });
    },
  }) as unknown as T & { setKey(key: string): void };
}
