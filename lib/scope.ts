/**
 * "Already measured" scope (DECISIONS.md, no double counting): a call made
 * inside an explicit measure()/wrap()/startTimer()/measureHealthCheck() is not
 * recorded again by the automatic HTTP or exec paths.
 *
 * AsyncLocalStorage turns on Node 20's promise hooks for the whole process,
 * which every promise of the host then pays for (part of the throughput cost
 * measured in BENCHMARKS.md). So it is created only when both are in use: an
 * automatic path is enabled, and an explicit call is made. A gateway that only
 * relies on the automatic paths never pays for it; before the first explicit
 * call there is nothing to deduplicate.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const KEY = Symbol.for('otel-gateway-metrics.scope');

interface ScopeState {
  als: AsyncLocalStorage<true> | undefined;
  /** Number of enabled automatic paths, across every copy of this module. */
  users: number;
}

/** Shared between the CJS and ESM copies (dual-package hazard). */
const state: ScopeState = ((globalThis as Record<symbol, unknown>)[KEY] as ScopeState | undefined) ??
  ((globalThis as Record<symbol, unknown>)[KEY] = { als: undefined, users: 0 } as ScopeState);

export function enableScope(): void {
  state.users++;
}

export function disableScope(): void {
  if (state.users > 0) state.users--;
  if (state.users === 0 && state.als !== undefined) {
    // No automatic path left: stop paying for the promise hooks.
    state.als.disable();
    state.als = undefined;
  }
}

/** Whether the AsyncLocalStorage exists (for specs and benchmarks). */
export function scopeActive(): boolean {
  return state.als !== undefined;
}

/** The storage, when an automatic path could see a measured call. */
function storage(): AsyncLocalStorage<true> | undefined {
  return state.users > 0 ? (state.als ??= new AsyncLocalStorage<true>()) : undefined;
}

/** Run `fn` marked as measured, when an automatic path could see it. */
export function runMeasured<T>(fn: () => T): T {
  const als = storage();
  return als !== undefined ? als.run(true, fn) : fn();
}

export function inMeasuredScope(): boolean {
  return state.als?.getStore() === true;
}

/** Token for scopeRestore(); `undefined` when the scope is not in use. */
export type ScopeToken = { prev: true | undefined } | undefined;

/**
 * startTimer() has no callback to run inside, so it marks the caller's current
 * async context until end() restores it.
 */
export function scopeEnter(): ScopeToken {
  const als = storage();
  if (als === undefined) return undefined;
  const prev = als.getStore();
  als.enterWith(true);
  return { prev };
}

export function scopeRestore(token: ScopeToken): void {
  if (token === undefined || state.als === undefined) return;
  // enterWith(undefined) clears the mark for the rest of this context.
  state.als.enterWith(token.prev as true);
}
