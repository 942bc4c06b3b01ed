/**
 * Values the gateway keeps itself (in-flight counts, node up, body bytes),
 * read when a reader collects: the instrument holds only the walk that emits
 * them, so nothing is stored per series here and nothing is left behind when
 * a node goes.
 */
import type { Disposable, ObservedKind, Walk } from '../core/recorder';
import type { StoredInstrument, Stream } from './stream';

export class ObservedInstrument implements StoredInstrument, Disposable {
  readonly kind = 'observed';
  private _disposed = false;

  constructor(
    readonly stream: Stream,
    readonly observedKind: ObservedKind,
    private readonly _walk: Walk,
  ) {}

  /** Every live point, in one synchronous pass. */
  walk(emit: Parameters<Walk>[0]): void {
    if (!this._disposed) this._walk(emit, false);
  }

  dispose(): void {
    this._disposed = true;
  }
}
