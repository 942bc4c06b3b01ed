/**
 * "Already measured" scope (DECISIONS.md, no double counting): a call made
 * inside an explicit measure()/wrap()/startTimer() is not recorded again by
 * the automatic HTTP or exec paths.
 *
 * AsyncLocalStorage turns on promise hooks for the whole process, which every
 * promise of the host then pays for, so the storage is only used once an
 * automatic path is enabled. Without one there is nothing to deduplicate.
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
  state.als ??= new AsyncLocalStorage<true>();
}

export function disableScope(): void {
  if (state.users > 0) state.users--;
}

/** Run `fn` marked as measured, when an automatic path could see it. */
export function runMeasured<T>(fn: () => T): T {
  const als = state.als;
  return als !== undefined && state.users > 0 ? als.run(true, fn) : fn();
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
  const als = state.als;
  if (als === undefined || state.users === 0) return undefined;
  const prev = als.getStore();
  als.enterWith(true);
  return { prev };
}

export function scopeRestore(token: ScopeToken): void {
  if (token === undefined || state.als === undefined) return;
  // enterWith(undefined) clears the mark for the rest of this context.
  state.als.enterWith(token.prev as true);
}
