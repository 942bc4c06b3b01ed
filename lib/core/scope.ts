/**
 * "Already measured" scope (no double counting): a call made
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

/**
 * One explicit call's mark: open from the call's start until its attempt
 * ends. Contexts created inside keep a reference to it, so closing it ends the
 * scope for all of them at once — also for an async resource that outlives the
 * call (a keep-alive socket, a setInterval timer), which a plain store value
 * would keep marked for good.
 */
export interface ScopeMark {
  open: boolean;
  /** The nearest enclosing mark that was still open when this one was made. */
  readonly parent: ScopeMark | undefined;
}

interface ScopeState {
  als: AsyncLocalStorage<ScopeMark> | undefined;
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
function storage(): AsyncLocalStorage<ScopeMark> | undefined {
  return state.users > 0 ? (state.als ??= new AsyncLocalStorage<ScopeMark>()) : undefined;
}

function nearestOpen(mark: ScopeMark | undefined): ScopeMark | undefined {
  while (mark !== undefined && !mark.open) mark = mark.parent;
  return mark;
}

/** A new open mark, or undefined when no automatic path could see the call. */
export function openMark(): ScopeMark | undefined {
  const als = storage();
  return als === undefined ? undefined : { open: true, parent: nearestOpen(als.getStore()) };
}

/** Run `fn` inside `mark` (as is, without one). */
export function runInMark<T>(mark: ScopeMark | undefined, fn: () => T): T {
  const als = state.als;
  return mark === undefined || als === undefined ? fn() : als.run(mark, fn);
}

/**
 * startTimer() has no callback to run inside: mark the caller's current async
 * context; end() closes the mark (it does not try to restore the context,
 * which end() may not even run in).
 */
export function enterMark(): ScopeMark | undefined {
  const mark = openMark();
  if (mark !== undefined) state.als!.enterWith(mark);
  return mark;
}

export function closeMark(mark: ScopeMark | undefined): void {
  if (mark !== undefined) mark.open = false;
}

export function inMeasuredScope(): boolean {
  const als = state.als;
  return als !== undefined && nearestOpen(als.getStore()) !== undefined;
}
