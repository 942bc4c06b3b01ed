/**
 * The slab every stored kind keeps its numbers in: one Float64Array per
 * instrument, one row of `stride` numbers per series, rows reused after a
 * series is released.
 *
 * Why one array per instrument and not an object (or a typed array) per
 * series: a Float64Array per series costs ~200 B of headers beside its
 * numbers, and an object per series boxes every double field (16 B each); a
 * row is its numbers and nothing else (a 13-bucket histogram: 18 × 8 B), and
 * a record is arithmetic on one array (bench/profile/own-storage.js measured
 * the shape before it was built).
 *
 * Row 0 is a sink: a released cell is pointed at it, so a late record into a
 * series that is gone lands there instead of in the row's next tenant, without
 * a branch on the hot path. Row 0 is never read.
 */
export class Rows<C> {
  data: Float64Array;
  /** The cell that owns each row (undefined: free, and row 0). */
  readonly cells: (C | undefined)[] = [undefined];
  /** Copies kept by delta readers; a row handed to a new series is zeroed in them too. */
  private readonly _shadows: Float64Array[] = [];
  private readonly _free: number[] = [];
  private _end = 1;
  private _live = 0;

  constructor(
    readonly stride: number,
    /** Writes a new row's initial numbers (counts 0, min +Inf, start time …). */
    private readonly _init: (data: Float64Array, offset: number) => void,
    initialRows = 16,
  ) {
    this.data = new Float64Array(stride * Math.max(2, initialRows));
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
      if (row * this.stride >= this.data.length) this._grow(row + 1);
    }
    this.cells[row] = cell;
    this._live++;
    const offset = row * this.stride;
    this.data.fill(0, offset, offset + this.stride);
    this._init(this.data, offset);
    for (const shadow of this._shadows) if (offset < shadow.length) shadow.fill(0, offset, offset + this.stride);
    return row;
  }

  free(row: number): void {
    if (row <= 0 || this.cells[row] === undefined) return;
    this.cells[row] = undefined;
    this._live--;
    this._free.push(row);
  }

  /** A zeroed copy-shaped array for a delta reader, kept as long as the slab grows with it. */
  shadow(): Float64Array {
    const s = new Float64Array(this.data.length);
    this._shadows.push(s);
    return s;
  }

  /** The current array of a shadow (it is replaced when the slab grows). */
  shadowAt(index: number): Float64Array {
    return this._shadows[index]!;
  }

  get shadowCount(): number {
    return this._shadows.length;
  }

  private _grow(rows: number): void {
    let capacity = this.data.length / this.stride;
    while (capacity < rows) capacity *= 2;
    const next = new Float64Array(capacity * this.stride);
    next.set(this.data);
    this.data = next;
    for (let i = 0; i < this._shadows.length; i++) {
      const s = new Float64Array(capacity * this.stride);
      s.set(this._shadows[i]!);
      this._shadows[i] = s;
    }
  }
}
