/**
 * Counter (monotonic) and up-down counter series: a row is the value and the
 * start time (ms since the epoch).
 */
import type { Attributes } from '@opentelemetry/api';
import { withAttribute, type CellOwner, type Releasable, type SumCell, type SumRecorder } from '../core/recorder';
import { describe, type RateLimitedWarner } from '../core/diag';
import { Rows } from './rows';
import { cellClass, Labelled, nowMs, type StoredInstrument, type Stream } from './stream';

export const VALUE = 0;
export const START = 1;

export class SumSeries extends Labelled implements SumCell, Releasable {
  /** On the per-instrument prototype (stream.ts cellClass). */
  declare readonly instrument: SumInstrument;
  row: number;
  constructor(instrument: SumInstrument, base: Attributes, value?: string) {
    super(base, value);
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
  private readonly _Cell = cellClass(SumSeries, this);
  /** The extra key of cellWith() cells (one per instrument; another key makes a whole set). */
  private _key: string | undefined;

  constructor(
    readonly stream: Stream,
    readonly monotonic: boolean,
    private readonly _warn: RateLimitedWarner,
  ) {}

  cell(attributes: Attributes, owner: CellOwner | undefined): SumSeries {
    return this._made(new this._Cell(this, attributes), owner);
  }

  cellWith(base: Attributes, key: string, value: string, owner: CellOwner | undefined): SumSeries {
    if (this._key === undefined) this._Cell.setKey((this._key = key));
    if (key !== this._key) return this.cell(withAttribute(base, key, value), owner);
    return this._made(new this._Cell(this, base, value), owner);
  }

  private _made(cell: SumSeries, _owner: CellOwner | undefined): SumSeries {
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
