/**
 * What every stored instrument shares: its metric stream (the name and
 * description a View may have changed, the unit, the instrument type that a
 * reader's temporality and aggregation selectors are asked about) and the
 * clock the store stamps start times with.
 */
import type { ValueType } from '@opentelemetry/api';
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
