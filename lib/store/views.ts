/**
 * Which View applies to a stored instrument, matched the way sdk-metrics
 * matches them (view/ViewRegistry, InstrumentSelector, MeterSelector,
 * Predicate in sdk-metrics 3.1): the instrument name as a pattern, its type
 * and unit exactly, the meter's name, version and schema URL exactly. Among
 * the Views that match, the first one given wins: a user's own Views come
 * before ours, so they override our buckets. (The SDK would make one stream
 * per matching View; a store instrument has one stream, and a second match is
 * reported once.)
 */
import type { AggregationOption, InstrumentType, ViewOptions } from '@opentelemetry/sdk-metrics';

// The AggregationType enum values, identical in sdk-metrics 2.x and 3.x.
export const AGGREGATION_DEFAULT = 0;
export const AGGREGATION_DROP = 1;
export const AGGREGATION_SUM = 2;
export const AGGREGATION_LAST_VALUE = 3;
export const AGGREGATION_EXPLICIT = 4;
export const AGGREGATION_EXPONENTIAL = 5;

const ESCAPE = /[\^$\\.+?()[\]{}|]/g;

/**
 * The SDK's PatternPredicate: `*` alone matches everything; otherwise the
 * pattern is escaped and its first `*` becomes `.*` (String.replace with a
 * string replaces only the first occurrence; the SDK reads it so, and a View
 * must select the same instruments here as there).
 */
export function nameMatches(pattern: string | undefined, name: string): boolean {
  if (pattern === undefined || pattern === '*') return true;
  return new RegExp(`^${pattern.replace(ESCAPE, '\\$&').replace('*', '.*')}$`).test(name);
}

export interface InstrumentIdentity {
  readonly name: string;
  readonly type: InstrumentType;
  readonly unit: string;
}

export interface MeterIdentity {
  readonly name: string;
  readonly version?: string;
  readonly schemaUrl?: string;
}

export function viewMatches(view: ViewOptions, instrument: InstrumentIdentity, meter: MeterIdentity): boolean {
  return (
    (view.instrumentType === undefined || view.instrumentType === instrument.type) &&
    nameMatches(view.instrumentName, instrument.name) &&
    (view.instrumentUnit === undefined || view.instrumentUnit === instrument.unit) &&
    (view.meterName === undefined || view.meterName === meter.name) &&
    (meter.version === undefined || view.meterVersion === undefined || view.meterVersion === meter.version) &&
    (meter.schemaUrl === undefined || view.meterSchemaUrl === undefined || view.meterSchemaUrl === meter.schemaUrl)
  );
}

export interface ResolvedView {
  readonly name: string;
  readonly description: string | undefined;
  /** undefined: the reader's own aggregation selector decides. */
  readonly aggregation: AggregationOption | undefined;
  /** How many Views matched (more than one: only the first applies here). */
  readonly matches: number;
  /** The View that applied had options a store instrument does not take (attributesProcessors). */
  readonly ignored: readonly string[];
}

export function resolveView(views: readonly ViewOptions[], instrument: InstrumentIdentity, meter: MeterIdentity): ResolvedView {
  let first: ViewOptions | undefined;
  let matches = 0;
  for (const view of views) {
    if (!viewMatches(view, instrument, meter)) continue;
    matches++;
    first ??= view;
  }
  const aggregation = first?.aggregation;
  const ignored: string[] = [];
  if (first?.attributesProcessors !== undefined && first.attributesProcessors.length > 0) ignored.push('attributesProcessors');
  return {
    name: first?.name ?? instrument.name,
    description: first?.description,
    aggregation: aggregation === undefined || aggregation.type === AGGREGATION_DEFAULT ? undefined : aggregation,
    matches,
    ignored,
  };
}
