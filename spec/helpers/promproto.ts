/**
 * Decode the Prometheus protobuf exposition (length-delimited MetricFamily
 * messages) with protobufjs and the upstream metrics.proto of
 * prometheus/client_model (installed by scripts/e2e-setup.sh), independently
 * of lib/export/protobuf.ts.
 */
import * as protobuf from 'protobufjs';
import { tools } from './tools';

export const PROTOBUF_ACCEPT = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';

export interface PbLabel { name: string; value: string }
export interface PbExemplar { label: PbLabel[]; value: number; timestamp?: { seconds: number; nanos?: number } }
export interface PbBucket { cumulativeCount: number; upperBound: number; exemplar?: PbExemplar }
export interface PbSpan { offset?: number; length: number }
export interface PbHistogram {
  sampleCount: number;
  sampleSum: number;
  bucket?: PbBucket[];
  schema?: number;
  zeroThreshold?: number;
  zeroCount?: number;
  positiveSpan?: PbSpan[];
  positiveDelta?: number[];
  negativeSpan?: PbSpan[];
  negativeDelta?: number[];
  exemplars?: PbExemplar[];
}
export interface PbMetric { label?: PbLabel[]; gauge?: { value: number }; counter?: { value: number }; histogram?: PbHistogram }
export interface PbFamily { name: string; help?: string; type: string; metric: PbMetric[] }

let familyType: protobuf.Type | undefined;

export function decodeFamilies(bytes: Uint8Array): PbFamily[] {
  familyType ??= protobuf.loadSync(tools().metricsProto).lookupType('io.prometheus.client.MetricFamily');
  const reader = protobuf.Reader.create(bytes);
  const out: PbFamily[] = [];
  while (reader.pos < reader.len) {
    const message = familyType.decodeDelimited(reader);
    out.push(familyType.toObject(message, { longs: Number, enums: String, defaults: false }) as PbFamily);
  }
  return out;
}

export function labelsOf(m: PbMetric): Record<string, string> {
  return Object.fromEntries((m.label ?? []).map(l => [l.name, l.value]));
}

/** A native histogram's buckets as index → count, from its spans and deltas. */
export function absoluteBuckets(spans: PbSpan[] | undefined, deltas: number[] | undefined): Map<number, number> {
  const out = new Map<number, number>();
  let index = 0;
  let count = 0;
  let d = 0;
  for (const span of spans ?? []) {
    index += span.offset ?? 0; // the first span: its start; later ones: the gap after the previous one
    for (let k = 0; k < span.length; k++) {
      count += deltas![d++]!;
      if (count !== 0) out.set(index, count);
      index++;
    }
  }
  return out;
}
