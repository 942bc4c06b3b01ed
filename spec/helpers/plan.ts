/**
 * The fixed plan every HTTP library spec runs against a real loopback agent,
 * and what it must leave in the metrics:
 *   3 × /ok, 2 × /503, 1 × a refused port, 1 × /slow, 1 × /stream (successes
 *   and 503s first), 1 × /hang under a client timeout of CLIENT_TIMEOUT_MS.
 * Each call is timed on the client side; recorded durations must match what
 * the client waited (±0.1 s in total per series).
 */
import { expect } from 'chai';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { semconv } from '../../lib';
import { STREAM_CHUNKS, type Agent } from './agents';
import { points, type Harness } from './metrics';

/** One call of a client library: resolves with status and body, or rejects with the client's error. */
export type Call = (url: string, options: { timeoutMs?: number }) => Promise<{ status: number; body: string }>;

export interface Waited {
  /** Seconds the client waited, per outcome. */
  success: number[];
  http5xx: number[];
  refused: number[];
  timeout: number[];
  /** The client's own error for the timed-out call. */
  timeoutError: unknown;
  refusedError: unknown;
}

async function timedCall(call: () => Promise<{ status: number; body: string }>): Promise<{ seconds: number; status?: number; body?: string; error?: unknown }> {
  const t0 = performance.now();
  try {
    const r = await call();
    return { seconds: (performance.now() - t0) / 1000, ...r };
  } catch (error) {
    return { seconds: (performance.now() - t0) / 1000, error };
  }
}

/** Run the plan with `call` against `agent` (direct URLs) or through `base` (a gateway in front of it). */
export async function runPlan(call: Call, urls: { ok: string; e503: string; slow: string; stream: string; hang: string; refused: string }, timeoutMs: number): Promise<Waited> {
  const w: Waited = { success: [], http5xx: [], refused: [], timeout: [], timeoutError: undefined, refusedError: undefined };
  for (let i = 0; i < 3; i++) {
    const r = await timedCall(() => call(urls.ok, {}));
    expect(r.error, String(r.error)).to.equal(undefined);
    expect([r.status, r.body]).to.deep.equal([200, 'ok']);
    w.success.push(r.seconds);
  }
  for (let i = 0; i < 2; i++) {
    const r = await timedCall(() => call(urls.e503, {}));
    w.http5xx.push(r.seconds);
  }
  const refused = await timedCall(() => call(urls.refused, {}));
  w.refused.push(refused.seconds);
  w.refusedError = refused.error ?? refused.status;
  const slow = await timedCall(() => call(urls.slow, {}));
  expect(slow.error, String(slow.error)).to.equal(undefined);
  expect(slow.body).to.equal('slow;done');
  w.success.push(slow.seconds);
  const stream = await timedCall(() => call(urls.stream, {}));
  expect(stream.error, String(stream.error)).to.equal(undefined);
  expect(stream.body).to.equal(Array.from({ length: STREAM_CHUNKS }, (_, i) => `chunk${i + 1}`).join(';'));
  w.success.push(stream.seconds);
  const hang = await timedCall(() => call(urls.hang, { timeoutMs }));
  w.timeout.push(hang.seconds);
  w.timeoutError = hang.error ?? hang.status;
  // Some clients reject before they tear their request down (node-fetch
  // rejects, then destroys): let that finish before the metrics are read.
  await new Promise(r => setTimeout(r, 50));
  return w;
}

export function directUrls(agent: Agent, refusedPort: number): Parameters<typeof runPlan>[1] {
  return {
    ok: `${agent.base}/ok`,
    e503: `${agent.base}/503`,
    slow: `${agent.base}/slow`,
    stream: `${agent.base}/stream`,
    hang: `${agent.base}/hang`,
    refused: `http://127.0.0.1:${refusedPort}/ok`,
  };
}

export interface SeriesView {
  success: { count: number; sum: number };
  error: { count: number; sum: number };
  /** error.type → count (summed over status classes). */
  errors: Record<string, number>;
  active: number;
}

/** What the metrics hold for one node (transport http). */
export async function seriesOf(h: Harness, node: string): Promise<SeriesView> {
  const rm = await h.collect();
  const hist = (status: string) => {
    const p = points<Histogram>(rm, semconv.METRIC_REQUEST_DURATION, { node, transport: 'http', status });
    return { count: p.reduce((n, x) => n + x.value.count, 0), sum: p.reduce((n, x) => n + (x.value.sum ?? 0), 0) };
  };
  const errors: Record<string, number> = {};
  for (const p of points<number>(rm, semconv.METRIC_REQUEST_ERRORS, { node, transport: 'http' })) {
    const t = String(p.attributes['error.type']);
    errors[t] = (errors[t] ?? 0) + p.value;
  }
  const active = points<number>(rm, semconv.METRIC_REQUESTS_ACTIVE, { node, transport: 'http' }).reduce((n, p) => n + p.value, 0);
  return { success: hist('success'), error: hist('error'), errors, active };
}

/** Every node the metrics name (duration histogram). */
export async function nodesOf(h: Harness): Promise<string[]> {
  const rm = await h.collect();
  return [...new Set(points(rm, semconv.METRIC_REQUEST_DURATION).map(p => String(p.attributes.node)))].sort();
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * The recorded durations match what the client waited: within 0.1 s per
 * series, and never more than the client waited (the attempt is inside the
 * client's wait).
 */
export function expectWaited(recorded: number, waited: number[]): void {
  const w = sum(waited);
  expect(recorded, `recorded ${recorded.toFixed(3)} s vs client waited ${w.toFixed(3)} s`).to.be.within(w - 0.1, w + 0.005);
}
