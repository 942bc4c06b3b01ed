/**
 * The fixed plan every HTTP library spec runs against a real loopback agent,
 * and what it must leave in the metrics:
 *   3 × /ok, 2 × /503, 1 × a refused port, 1 × /slow, 1 × /stream (successes
 *   and 503s first), 1 × /hang under a client timeout of CLIENT_TIMEOUT_MS.
 * Each call is timed on the client side; the duration it added to the
 * metrics must match what the client waited for it (±0.1 s).
 */
import { expect } from 'chai';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { semconv } from '../../lib';
import { STREAM_CHUNKS, type Agent } from './agents';
import { eventually } from './eventually';
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

export interface PlanOptions {
  /** Total recorded duration (all nodes, transport http) so far: each call is checked against its own wait. */
  recorded: () => Promise<number>;
  /** The client retries a 503'd call with pauses between attempts: its attempts only sum to less than its wait. */
  retries503?: boolean;
}

/**
 * Run the plan with `call` (direct URLs, or a gateway in front of the agent).
 * After every call the recorded duration it added is compared with what the
 * client waited for it: within 0.1 s, and never more than the wait (the
 * attempt lies inside it).
 */
export async function runPlan(call: Call, urls: { ok: string; e503: string; slow: string; stream: string; hang: string; refused: string }, timeoutMs: number, options: PlanOptions): Promise<Waited> {
  const w: Waited = { success: [], http5xx: [], refused: [], timeout: [], timeoutError: undefined, refusedError: undefined };
  const one = async (label: string, fn: () => Promise<{ status: number; body: string }>, lowerBound = true) => {
    const before = await options.recorded();
    const r = await timedCall(fn);
    // Some clients settle before they tear their request down (node-fetch
    // rejects, then destroys): wait for the attempt's record rather than for a fixed time.
    const added = await eventually(async () => {
      const a = (await options.recorded()) - before;
      expect(a, `${label}: nothing recorded`).to.be.above(0);
      return a;
    });
    const msg = `${label}: recorded ${added.toFixed(3)} s vs client waited ${r.seconds.toFixed(3)} s`;
    // The attempt lies inside the client's wait, and (for waits long enough to tell) covers most of it: relative, so
    // that a scheduling delay on a loaded machine cannot fail it, but timing from the wrong start or end would.
    expect(added, msg).to.be.at.most(r.seconds + 0.005);
    if (lowerBound && r.seconds >= 0.2) expect(added, msg).to.be.at.least(r.seconds / 2);
    return r;
  };
  for (let i = 0; i < 3; i++) {
    const r = await one('ok', () => call(urls.ok, {}));
    expect(r.error, String(r.error)).to.equal(undefined);
    expect([r.status, r.body]).to.deep.equal([200, 'ok']);
    w.success.push(r.seconds);
  }
  for (let i = 0; i < 2; i++) {
    const r = await one('503', () => call(urls.e503, {}), options.retries503 !== true);
    w.http5xx.push(r.seconds);
  }
  const refused = await one('refused', () => call(urls.refused, {}));
  w.refused.push(refused.seconds);
  w.refusedError = refused.error ?? refused.status;
  const slow = await one('slow', () => call(urls.slow, {}));
  expect(slow.error, String(slow.error)).to.equal(undefined);
  expect(slow.body).to.equal('slow;done');
  w.success.push(slow.seconds);
  const stream = await one('stream', () => call(urls.stream, {}));
  expect(stream.error, String(stream.error)).to.equal(undefined);
  expect(stream.body).to.equal(Array.from({ length: STREAM_CHUNKS }, (_, i) => `chunk${i + 1}`).join(';'));
  w.success.push(stream.seconds);
  const hang = await one('timeout', () => call(urls.hang, { timeoutMs }));
  w.timeout.push(hang.seconds);
  w.timeoutError = hang.error ?? hang.status;
  return w;
}

/** Total recorded `gateway.request.duration` sum (transport http), for PlanOptions.recorded. */
export function recordedSum(h: Harness): () => Promise<number> {
  return async () => {
    const rm = await h.collect();
    return points<Histogram>(rm, semconv.METRIC_REQUEST_DURATION, { transport: 'http' }).reduce((n, p) => n + (p.value.sum ?? 0), 0);
  };
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
