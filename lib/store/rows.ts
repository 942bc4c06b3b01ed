/**
 * The slab every stored kind keeps its numbers in: one row of `stride`
 * numbers per series, in Float64Array blocks of BLOCK_ROWS rows, rows reused
 * after a series is released.
 *
 * Why rows in shared arrays and not an object (or a typed array) per series:
 * a Float64Array per series costs ~200 B of headers beside its numbers, and an
 * object per series boxes every double field (16 B each); a row is its
 * numbers and nothing else (a 13-bucket histogram: 20 × 8 B), and a record is
 * arithmetic on one array (bench/profile/own-storage.js measured the shape
 * before it was built). Why blocks and not one array grown by copying: a grown
 * array keeps up to half its length unused (40 B a series of a histogram at
 * ×1.5), and the copy (3–4 MB at 20,000 series) would run on the request path
 * of the call that made the new series.
 *
 * Row 0 is a sink: a released cell is pointed at it, so a late record into a
 * series that is gone lands there instead of in the row's next tenant, without
 * a branch on the hot path. Row 0 is never read.
 */

/** A label position: offset × LABEL_SPAN + length. */
export const LABEL_SPAN = 2 ** 24;

/** Rows per block: a 13-bucket histogram block is 40 kB. */
export const BLOCK_SHIFT = 8;
export const BLOCK_ROWS = 1 << BLOCK_SHIFT;
const BLOCK_MASK = BLOCK_ROWS - 1;

export class Rows<C> {
  /** The blocks: row r is in blocks[r >> BLOCK_SHIFT] at offset (r & (BLOCK_ROWS − 1)) × stride. */
  readonly blocks: Float64Array[] = [];
  /**
   * Each row's label set as the text exposition writes it (`k="v",…`),
   * encoded on the first scrape that reads the row, in one Buffer per slab;
   * the row's last column says where (offset × 2^24 + length, −1: not yet).
   * Why not a Buffer or a WeakMap entry per label set: at 20,000 series those
   * cost 200–370 B a series on top of the bytes themselves.
   */
  labelBytes = Buffer.allocUnsafe(0);
  private _labelsUsed = 0;
  private _labelsGarbage = 0;
  /** The cell that owns each row (undefined: free, and row 0). */
  readonly cells: (C | undefined)[] = [undefined];
  /** Copies kept by delta readers, block for block; a row handed to a new series is zeroed in them too. */
  private readonly _shadows: Float64Array[][] = [];
  private readonly _free: number[] = [];
  private _end = 1;
  private _live = 0;

  /** The column holding the label position. */
  readonly labelColumn: number;
  readonly stride: number;

  constructor(
    /** Numbers per row, besides the label position the slab adds as the last column. */
    columns: number,
    /** Writes a new row's initial numbers (counts 0, min +Inf, start time …). */
    private readonly _init: (block: Float64Array, offset: number) => void,
  ) {
    this.labelColumn = columns;
    this.stride = columns + 1;
    this.blocks.push(new Float64Array(BLOCK_ROWS * this.stride));
  }

  /** The block holding `row`. */
  block(row: number): Float64Array {
    return this.blocks[row >> BLOCK_SHIFT]!;
  }

  /** Where `row` starts in its block. */
  offset(row: number): number {
    return (row & BLOCK_MASK) * this.stride;
  }

  /** One past the highest row ever used: walk rows 1 … end − 1 and skip the free ones. */
  get end(): number {
    return this._end;
  }

  /** Rows held by live series. */
  get live(): number {
    return this._live;
  }

  alloc(cell: C): number {
    let row = this._free.pop();
    if (row === undefined) {
      row = this._end++;
      if (row >> BLOCK_SHIFT >= this.blocks.length) {
        this.blocks.push(new Float64Array(BLOCK_ROWS * this.stride));
        for (const shadow of this._shadows) shadow.push(new Float64Array(BLOCK_ROWS * this.stride));
      }
    }
    this.cells[row] = cell;
    this._live++;
    const block = this.block(row);
    const offset = this.offset(row);
    block.fill(0, offset, offset + this.stride);
    block[offset + this.labelColumn] = -1;
    this._init(block, offset);
    for (const shadow of this._shadows) shadow[row >> BLOCK_SHIFT]!.fill(0, offset, offset + this.stride);
    return row;
  }

  free(row: number): void {
    if (row <= 0 || this.cells[row] === undefined) return;
    const at = this.block(row)[this.offset(row) + this.labelColumn]!;
    if (at >= 0) this._labelsGarbage += at % LABEL_SPAN;
    this.cells[row] = undefined;
    this._live--;
    this._free.push(row);
  }

  /** Zeroed copies of the blocks for a delta reader, kept as the slab grows; returns its index. */
  shadow(): number {
    this._shadows.push(this.blocks.map(b => new Float64Array(b.length)));
    return this._shadows.length - 1;
  }

  /** Delta reader `index`'s copy of the block holding `row`. */
  shadowBlock(index: number, row: number): Float64Array {
    return this._shadows[index]![row >> BLOCK_SHIFT]!;
  }

  /**
   * Where `row`'s label set is in labelBytes (offset × 2^24 + length),
   * encoded with `encode(cell)` the first time. A label set of 16 MiB or more is
   * not kept (−1: the caller encodes it itself).
   */
  labelsAt(row: number, cell: unknown, encode: (cell: unknown) => string): number {
    const i = this.offset(row) + this.labelColumn;
    const at = this.block(row)[i]!;
    if (at >= 0) return at;
    const text = encode(cell);
    const length = Buffer.byteLength(text, 'utf8');
    if (length >= LABEL_SPAN) return -1;
    if (this._labelsGarbage > 64 * 1024 && this._labelsGarbage > this._labelsUsed / 2) this._compactLabels();
    if (this._labelsUsed + length > this.labelBytes.length) {
      const next = Buffer.allocUnsafe(Math.max(4096, Math.ceil(1.5 * (this._labelsUsed + length))));
      this.labelBytes.copy(next, 0, 0, this._labelsUsed);
      this.labelBytes = next;
    }
    this.labelBytes.write(text, this._labelsUsed, 'utf8');
    const packed = this._labelsUsed * LABEL_SPAN + length;
    this._labelsUsed += length;
    this.block(row)[i] = packed;
    return packed;
  }

  /** The label sets of live rows only, in a new Buffer (released rows left theirs behind). */
  private _compactLabels(): void {
    const next = Buffer.allocUnsafe(Math.max(4096, this._labelsUsed - this._labelsGarbage));
    let used = 0;
    for (let row = 1; row < this._end; row++) {
      if (this.cells[row] === undefined) continue;
      const block = this.block(row);
      const i = this.offset(row) + this.labelColumn;
      const at = block[i]!;
      if (at < 0) continue;
      const length = at % LABEL_SPAN;
      const offset = (at - length) / LABEL_SPAN;
      this.labelBytes.copy(next, used, offset, offset + length);
      block[i] = used * LABEL_SPAN + length;
      used += length;
    }
    this.labelBytes = next;
    this._labelsUsed = used;
    this._labelsGarbage = 0;
  }
}
