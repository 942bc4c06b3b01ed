/**
 * Bounded, known load for the example gateway, through the example's own load
 * generator (examples/gateway/loadgen.js), with each node's calls spread evenly
 * over the run instead of bunched at its start.
 */
import { join } from 'node:path';
import { ROOT } from './child';

export interface Call {
  node: string;
  /** An MCP tool (MCP nodes of the example gateway): params.name of the tools/call. */
  tool?: string;
  fail?: boolean;
}

export interface Counts {
  sent: number;
  ok: number;
  failed: number;
}

export interface NodeStats extends Counts {
  /** Per tool, for nodes that got calls with a tool. */
  tools?: Record<string, Counts>;
}

interface Loadgen {
  sendCalls(url: string, calls: Call[], options: { concurrency?: number; rate?: number }): Promise<Record<string, NodeStats>>;
  plan(counts: Record<string, number>, failEvery?: Record<string, number>): Call[];
  /** Arguments for the example MCP agent's tools. */
  TOOL_ARGS: Record<string, Record<string, string>>;
}

// A plain CommonJS example file (no types): loaded as the example loads it.
export const loadgen = require(join(ROOT, 'examples', 'gateway', 'loadgen.js')) as Loadgen;

/**
 * `counts[node]` calls per node; node n's j-th call sits at (j + 0.5) / counts[n]
 * of the run, so every node's calls are spread evenly over the whole run
 * (loadgen.plan interleaves round-robin, which puts all of a small node's
 * calls at the start). `failEvery[node] = k`: every k-th call to it fails
 * (the agent answers HTTP 500), as in loadgen.plan.
 */
export function spreadPlan(counts: Record<string, number>, failEvery: Record<string, number> = {}): Call[] {
  const keyed: { at: number; order: number; call: Call }[] = [];
  Object.entries(counts).forEach(([node, n], order) => {
    const k = failEvery[node] ?? 0;
    for (let j = 0; j < n; j++) keyed.push({ at: (j + 0.5) / n, order, call: { node, fail: k > 0 && (j + 1) % k === 0 } });
  });
  keyed.sort((a, b) => a.at - b.at || a.order - b.order);
  return keyed.map(x => x.call);
}

function add(acc: Counts, s: Counts): void {
  acc.sent += s.sent;
  acc.ok += s.ok;
  acc.failed += s.failed;
}

/** Per node (and per tool) totals of several runs of sendCalls. */
export function addStats(...runs: Record<string, NodeStats>[]): Record<string, NodeStats> {
  const out: Record<string, NodeStats> = {};
  for (const run of runs) {
    for (const [node, s] of Object.entries(run)) {
      const acc = (out[node] ??= { sent: 0, ok: 0, failed: 0 });
      add(acc, s);
      for (const [tool, t] of Object.entries(s.tools ?? {})) add(((acc.tools ??= {})[tool] ??= { sent: 0, ok: 0, failed: 0 }), t);
    }
  }
  return out;
}

/** The same totals a plan should produce if every call behaves as designed. */
export function plannedStats(calls: Call[]): Record<string, NodeStats> {
  const out: Record<string, NodeStats> = {};
  for (const c of calls) {
    const s = (out[c.node] ??= { sent: 0, ok: 0, failed: 0 });
    const counters: Counts[] = [s];
    if (c.tool !== undefined) counters.push(((s.tools ??= {})[c.tool] ??= { sent: 0, ok: 0, failed: 0 }));
    for (const x of counters) {
      x.sent++;
      if (c.fail) x.failed++;
      else x.ok++;
    }
  }
  return out;
}
