/**
 * Counter (monotonic) and up-down counter series: a row is the value and the
 * start time (ms since the epoch).
 */
import type { Attributes } from '@opentelemetry/api';
import type { CellOwner, Releasable, SumCell, SumRecorder } from '../core/recorder';
import { describe, type RateLimitedWarner } from '../core/diag';
import { Rows } from './rows';
import { Labelled, nowMs, type StoredInstrument, type Stream } from './stream';

export const VALUE = 0;
export const START = 1;

export class SumSeries extends Labelled implements SumCell, Releasable {
  row: number;
  constructor(readonly instrument: SumInstrument, base: Attributes, key?: string, value?: string) {
    super(base, key, value);
    this.row = instrument.rows.alloc(this);
  }

  add(value: number): void {
    this.instrument.add(this.row, value);
  }

  release(): void {
    this.instrument.release(this);
  }
}

export class SumInstrument implements SumRecorder, StoredInstrument {
  readonly kind = 'sum';
  readonly rows = new Rows<SumSeries>(2, (d, o) => {
    d[o + START] = nowMs();
  });

  constructor(
    readonly stream: Stream,
    readonly monotonic: boolean,
    private readonly _warn: RateLimitedWarner,
  ) {}

  cell(attributes: Attributes, owner: CellOwner | undefined): SumSeries {
    return this._made(new SumSeries(this, attributes), owner);
  }

  cellWith(base: Attributes, key: string, value: string, owner: CellOwner | undefined): SumSeries {
    return this._made(new SumSeries(this, base, key, value), owner);
  }

  private _made(cell: SumSeries, owner: CellOwner | undefined): SumSeries {
    if (owner !== undefined) (owner.cells ??= []).push(cell);
    return cell;
  }

  add(row: number, value: number): void {
    if (!(value > -Infinity && value < Infinity) || (this.monotonic && value < 0)) {
      this._warn.warn(`store-value:${this.stream.name}`, () => `${this.stream.name}: dropped ${describe(value)} (a ${this.monotonic ? 'counter takes finite values >= 0' : 'sum takes finite values'})`);
      return;
    }
    this.rows.block(row)[this.rows.offset(row) + VALUE]! += value;
  }

  release(cell: SumSeries): void {
    const row = cell.row;
    if (row === 0) return;
    cell.row = 0;
    this.rows.free(row);
  }
}
