/**
 * One series of a base-2 exponential histogram, giving exactly the points
 * sdk-metrics 3.1 gives (aggregator/ExponentialHistogram, its Buckets and
 * mappings), without the SDK's attribute hashing on the request path.
 *
 * The arithmetic is the SDK's, step for step: the same index mapping (bit
 * tests for powers of two, Math.log times the same factor otherwise), the same
 * circular bucket array, the same downscale when a value does not fit, the
 * same merge and diff. Anything "better" (a corrected log near powers of two,
 * a merge that picks the scale from the values) would move values across
 * bucket boundaries or change the scale the SDK settles on, and the points
 * would differ. We depart from the SDK only where it goes wrong (a diff
 * after only zeros, see diff(); a downscale that leaves a value outside the
 * window, see _updateBuckets()), and in how large the bucket arrays are,
 * which never shows in a point (see Buckets.grow()).
 *
 * State is kept lean because there is one cell per series: a side's bucket
 * array is only allocated when the side gets its first value, and holds about
 * as many slots as the side has buckets.
 */

/** The point value, shaped like sdk-metrics' ExponentialHistogram (what MetricData carries). */
export interface ExponentialValue {
  count: number;
  sum: number;
  min?: number;
  max?: number;
  scale: number;
  zeroCount: number;
  positive: { offset: number; bucketCounts: number[] };
  negative: { offset: number; bucketCounts: number[] };
}

/** The SDK's defaults and limits. */
const DEFAULT_MAX_SIZE = 160;
const MIN_MAX_SIZE = 2;
const MAX_SCALE = 20;
const MIN_SCALE = -10;

// IEEE 754 double layout: the exponent and the top 20 significand bits sit in
// the high 32-bit word, the low word holds the other 32 significand bits.
const EXPONENT_MASK = 0x7ff00000;
const SIGNIFICAND_MASK = 0x000fffff;
const EXPONENT_BIAS = 1023;
const MIN_NORMAL_EXPONENT = -1022;
const MAX_NORMAL_EXPONENT = 1023;
/** The smallest normal double; anything below is subnormal. */
const MIN_VALUE = 2 ** -1022;

// The SDK reads the words through a DataView; typed arrays over one buffer
// give the same bits without the call overhead, once we know which word is high.
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;

/** ldexp(Math.LOG2E, scale), the SDK's LogarithmMapping factor, per scale 1..20. */
const SCALE_FACTOR: number[] = [];
for (let s = 0; s <= MAX_SCALE; s++) SCALE_FACTOR.push(Math.LOG2E * Math.pow(2, s));

/**
 * The bucket index of a positive finite value at a scale: the SDK's
 * ExponentMapping for scale <= 0 and LogarithmMapping for scale > 0.
 */
function mapToIndex(value: number, scale: number): number {
  if (scale <= 0) {
    const shift = -scale;
    if (value < MIN_VALUE) {
      // Subnormals share the bucket below the smallest normal's.
      return (MIN_NORMAL_EXPONENT >> shift) - (shift < 2 ? 1 : 0);
    }
    f64[0] = value;
    const hi = u32[HI]!;
    const exponent = ((hi & EXPONENT_MASK) >> 20) - EXPONENT_BIAS;
    // Buckets are (lower, upper]: an exact power of two closes the bucket below.
    const powerOfTwo = (hi & SIGNIFICAND_MASK) === 0 && u32[LO] === 0;
    return (exponent + (powerOfTwo ? -1 : 0)) >> shift;
  }
  // Note <=: here MIN_VALUE itself goes with the subnormals, unlike above.
  if (value <= MIN_VALUE) return (MIN_NORMAL_EXPONENT << scale) - 1;
  f64[0] = value;
  const hi = u32[HI]!;
  if ((hi & SIGNIFICAND_MASK) === 0 && u32[LO] === 0) {
    // Exact for powers of two, where the log below could round either way.
    return ((((hi & EXPONENT_MASK) >> 20) - EXPONENT_BIAS) << scale) - 1;
  }
  const index = Math.floor(Math.log(value) * SCALE_FACTOR[scale]!);
  const maxIndex = ((MAX_NORMAL_EXPONENT + 1) << scale) - 1;
  return index >= maxIndex ? maxIndex : index;
}

/** How many halvings bring [low, high] within maxSize buckets. */
function changeScale(high: number, low: number, maxSize: number): number {
  let change = 0;
  while (high - low >= maxSize) {
    high >>= 1;
    low >>= 1;
    change++;
  }
  return change;
}

/**
 * One side (positive or negative) of a histogram: the SDK's Buckets and
 * BucketsBacking as one object. `counts` is circular: counts[0] holds the
 * bucket of index `base`, and the window [start, end] may wrap past the end
 * of the array, so values below the first one need no shifting.
 */
class Buckets {
  constructor(
    public counts: number[],
    public base: number,
    public start: number,
    public end: number,
  ) {}

  static empty(): Buckets {
    return new Buckets([0], 0, 0, 0);
  }

  clone(): Buckets {
    return new Buckets(this.counts.slice(), this.base, this.start, this.end);
  }

  /** Buckets in the window; 0 when the only bucket is empty. */
  get length(): number {
    if (this.counts.length === 0) return 0;
    if (this.end === this.start && this.at(0) === 0) return 0;
    return this.end - this.start + 1;
  }

  /** The count of the position-th bucket of the window. */
  at(position: number): number {
    const bias = this.base - this.start;
    if (position < bias) position += this.counts.length;
    return this.counts[position - bias]!;
  }

  /** The window as a plain array (the point's bucketCounts). */
  toArray(): number[] {
    const n = this.length;
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.at(i));
    return out;
  }

  /**
   * Removes leading and trailing empty buckets (left by diff) and rotates so
   * that the window starts at counts[0]; an all-empty side resets to index 0.
   */
  trim(): void {
    for (let i = 0; i < this.length; i++) {
      if (this.at(i) !== 0) {
        this.start += i;
        break;
      } else if (i === this.length - 1) {
        this.start = this.end = this.base = 0;
        return;
      }
    }
    for (let i = this.length - 1; i >= 0; i--) {
      if (this.at(i) !== 0) {
        this.end -= this.length - i - 1;
        break;
      }
    }
    this.rotate();
  }

  /** Merges each 2**by adjacent buckets into one (the scale drops by `by`). */
  downscale(by: number): void {
    this.rotate();
    const counts = this.counts;
    const size = 1 + this.end - this.start;
    const each = 1 << by;
    let inpos = 0;
    let outpos = 0;
    for (let pos = this.start; pos <= this.end; ) {
      let mod = pos % each;
      if (mod < 0) mod += each;
      for (let i = mod; i < each && inpos < size; i++) {
        if (outpos !== inpos) {
          counts[outpos] += counts[inpos]!;
          counts[inpos] = 0;
        }
        inpos++;
        pos++;
      }
      outpos++;
    }
    this.start >>= by;
    this.end >>= by;
    this.base = this.start;
    // The window now starts at counts[0]: drop the emptied tail (the SDK keeps it).
    const n = this.end - this.start + 1;
    if (counts.length > n && n >= 1) counts.length = n;
  }

  /**
   * Grows the array to hold `needed` buckets, at most maxSize. The part of
   * the window that wrapped to the end of the old array moves to the end of
   * the new one.
   *
   * The SDK grows to the next power of two and never shrinks; we grow to what
   * is needed and shrink after a downscale. Where the window sits in the
   * array never shows in a point, and a cell whose 50 values span ~110
   * buckets holds ~1.15 kB instead of ~1.46 kB (bench/profile/exponential-cell.js).
   * A new edge bucket costs a copy of the window, which stops once the range
   * of values is seen.
   */
  grow(needed: number, maxSize: number): void {
    const old = this.counts;
    const size = old.length;
    const bias = this.base - this.start;
    const oldPositiveLimit = size - bias;
    const newSize = needed > maxSize ? maxSize : needed;
    const newPositiveLimit = newSize - bias;
    // (The SDK splices with spread arguments; plain loops do the same.)
    const next = new Array<number>(newSize).fill(0);
    for (let i = 0; i < oldPositiveLimit; i++) next[i] = old[i]!;
    for (let i = oldPositiveLimit; i < size; i++) next[newPositiveLimit + i - oldPositiveLimit] = old[i]!;
    this.counts = next;
  }

  /** Makes counts[0] the bucket of index `start`. */
  private rotate(): void {
    const bias = this.base - this.start;
    if (bias === 0) return;
    const n = this.counts.length;
    if (bias > 0) {
      this.reverse(0, n);
      this.reverse(0, bias);
      this.reverse(bias, n);
    } else {
      // As the SDK: the last -bias slots are empty here (trim only), so they need no reversal.
      this.reverse(0, n);
      this.reverse(0, n + bias);
    }
    this.base = this.start;
  }

  private reverse(from: number, limit: number): void {
    const counts = this.counts;
    const num = Math.floor((from + limit) / 2) - from;
    for (let i = 0; i < num; i++) {
      const tmp = counts[from + i]!;
      counts[from + i] = counts[limit - i - 1]!;
      counts[limit - i - 1] = tmp;
    }
  }
}

/** The [low, high] bucket indices of a side at a lower scale; (0, -1) when empty. */
function highLowAtScale(b: Buckets | null, currentScale: number, newScale: number): [number, number] {
  if (b === null || b.length === 0) return [0, -1];
  const shift = currentScale - newScale;
  return [b.start >> shift, b.end >> shift];
}

/**
 * A base-2 exponential histogram for one series: the SDK's
 * ExponentialHistogramAccumulation without its start time.
 */
export class ExponentialCell {
  private readonly _maxSize: number;
  private readonly _recordMinMax: boolean;
  private _count = 0;
  private _sum = 0;
  private _zeroCount = 0;
  // +Infinity / -Infinity until a value is seen (and again after diff), as the SDK.
  private _min = Infinity;
  private _max = -Infinity;
  /** The mapping's scale; the reported scale is 0 while every value was zero. */
  private _scale = MAX_SCALE;
  // Allocated on a side's first value: most latency series have no negatives.
  private _positive: Buckets | null = null;
  private _negative: Buckets | null = null;

  constructor(maxSize: number = DEFAULT_MAX_SIZE, recordMinMax: boolean = true) {
    // The SDK raises too small a size to 2 (with a diag warning).
    this._maxSize = maxSize < MIN_MAX_SIZE ? MIN_MAX_SIZE : maxSize;
    this._recordMinMax = recordMinMax;
  }

  /** One observation. Non-finite values are ignored, as the SDK ignores them. */
  record(value: number): void {
    if (!Number.isFinite(value)) return;
    if (value > this._max) this._max = value;
    if (value < this._min) this._min = value;
    this._count++;
    // -0 counts here too (and may become min or max, as in the SDK).
    if (value === 0) {
      this._zeroCount++;
      return;
    }
    this._sum += value;
    if (value > 0) this._updateBuckets((this._positive ??= Buckets.empty()), value);
    else this._updateBuckets((this._negative ??= Buckets.empty()), -value);
  }

  get count(): number {
    return this._count;
  }

  get sum(): number {
    return this._sum;
  }

  /** +Infinity when unknown (no observation, or after diff), as the SDK. */
  get min(): number {
    return this._min;
  }

  /** -Infinity when unknown (no observation, or after diff), as the SDK. */
  get max(): number {
    return this._max;
  }

  /** The reported scale: 0 while every observation was zero (or there was none), as the SDK. */
  get scale(): number {
    return this._count === this._zeroCount ? 0 : this._scale;
  }

  get zeroCount(): number {
    return this._zeroCount;
  }

  /**
   * A copy, as the SDK would report it cumulatively. min and max are left
   * undefined when recordMinMax is off (as the SDK) and also when they are
   * unknown: no observation yet, or a cell made by diff(). The SDK reports
   * +Infinity / -Infinity there instead.
   */
  value(): ExponentialValue {
    const known = this._recordMinMax && this._min <= this._max;
    return {
      min: known ? this._min : undefined,
      max: known ? this._max : undefined,
      sum: this._sum,
      positive: side(this._positive),
      negative: side(this._negative),
      count: this._count,
      scale: this.scale,
      zeroCount: this._zeroCount,
    };
  }

  /** A deep copy of the state. */
  clone(): ExponentialCell {
    const c = new ExponentialCell(this._maxSize, this._recordMinMax);
    c._count = this._count;
    c._sum = this._sum;
    c._zeroCount = this._zeroCount;
    c._min = this._min;
    c._max = this._max;
    c._scale = this._scale;
    c._positive = this._positive === null ? null : this._positive.clone();
    c._negative = this._negative === null ? null : this._negative.clone();
    return c;
  }

  /**
   * this += other, other unchanged: the SDK's accumulation merge. The SDK's
   * aggregator merge(previous, delta) is delta.clone().merge(previous), and a
   * cumulative reader computes each new point as (this interval).merge(last
   * point). The result can differ from recording both sequences into one
   * cell: the merged scale is decided from both sides' windows, and a side
   * holding only zeros reports scale 0, which pulls the result to scale <= 0.
   */
  merge(other: ExponentialCell): void {
    if (other === this) other = other.clone();
    if (this._count === 0) {
      this._min = other._min;
      this._max = other._max;
    } else if (other._count !== 0) {
      if (other._min < this._min) this._min = other._min;
      if (other._max > this._max) this._max = other._max;
    }
    this._sum += other._sum;
    this._count += other._count;
    this._zeroCount += other._zeroCount;
    // The SDK uses the reported scales here (counts already added), quirks included.
    const minScale = this._minScale(this.scale, other);
    this._downscale(this.scale - minScale);
    if (other._positive !== null && other._positive.length > 0) {
      this._mergeBuckets((this._positive ??= Buckets.empty()), other, other._positive, minScale);
    }
    if (other._negative !== null && other._negative.length > 0) {
      this._mergeBuckets((this._negative ??= Buckets.empty()), other, other._negative, minScale);
    }
  }

  /**
   * this − previous as a new cell, as the SDK's aggregator diff(previous,
   * this): counts and sum subtracted, buckets subtracted at the smaller scale
   * (each bucket floored at 0, then empty edges trimmed), and min / max
   * unknown (the SDK resets them; value() leaves them undefined).
   *
   * The result is not what the SDK reports as a delta for a synchronous
   * instrument: that is a fresh accumulation of the interval's values, whose
   * scale is often finer than the cumulative one, and whose sum is added up
   * rather than subtracted.
   *
   * Where we differ from the SDK: when nothing but zeros was recorded since
   * `previous` (or nothing at all), the SDK mixes the reported scale 0 with
   * the real one, subtracts at the wrong bucket indices and reports a count of
   * 0 with non-empty buckets (writing far past the end of its array). Here
   * those buckets subtract to empty, which is also what the SDK's delta point
   * for such an interval holds.
   */
  diff(previous: ExponentialCell): ExponentialCell {
    const result = this.clone();
    result._diff(previous === this ? previous.clone() : previous);
    return result;
  }

  /** Rebuilds a cell from a value(): value() of the result equals `v`. */
  static fromValue(v: ExponentialValue, maxSize?: number, recordMinMax?: boolean): ExponentialCell {
    const c = new ExponentialCell(maxSize, recordMinMax);
    c._count = v.count;
    c._sum = v.sum;
    c._zeroCount = v.zeroCount;
    c._min = v.min ?? Infinity;
    c._max = v.max ?? -Infinity;
    c._positive = fromSide(v.positive);
    c._negative = fromSide(v.negative);
    let scale = Number.isInteger(v.scale) ? v.scale : 0;
    if (v.count === v.zeroCount && lengthOf(c._positive) === 0 && lengthOf(c._negative) === 0) {
      // Only zeros, reported at scale 0 whatever the mapping's: take a fresh cell's.
      scale = MAX_SCALE;
    } else if (scale > MAX_SCALE) {
      // Finer than we map (another producer): the SDK's starting scale holds it exactly.
      // (Bucket indices are 32-bit: no histogram of doubles is more than 30 scales finer.)
      c._downscaleSides(Math.min(scale - MAX_SCALE, 30));
      scale = MAX_SCALE;
    } else if (scale < MIN_SCALE) {
      // At scale -10 every double is in bucket -1 or 0 already, as at any scale below.
      scale = MIN_SCALE;
    }
    c._scale = scale;
    // More buckets than this cell's maxSize (another producer): downscale to fit, as record would.
    const change = Math.max(
      c._positive === null ? 0 : changeScale(c._positive.end, c._positive.start, c._maxSize),
      c._negative === null ? 0 : changeScale(c._negative.end, c._negative.start, c._maxSize),
    );
    c._downscale(change);
    return c;
  }

  /** Maps a positive value to its bucket, downscaling first if the side would exceed maxSize. */
  private _updateBuckets(b: Buckets, value: number): void {
    let index = mapToIndex(value, this._scale);
    let rescale = false;
    let high = 0;
    let low = 0;
    if (b.length === 0) {
      b.start = b.end = b.base = index;
    } else if (index < b.start && b.end - index >= this._maxSize) {
      rescale = true;
      low = index;
      high = b.end;
    } else if (index > b.end && index - b.start >= this._maxSize) {
      rescale = true;
      low = b.start;
      high = index;
    }
    if (rescale) {
      this._downscale(changeScale(high, low, this._maxSize));
      index = mapToIndex(value, this._scale);
      // The change was computed from the index at the old scale. Crossing from
      // scale > 0 (Math.log, which can put a value a few ulps below a power of
      // two one bucket up) to scale <= 0 (exact), the new index can be one
      // further out, past maxSize buckets. The SDK then writes past its window
      // and reports more than maxSize buckets, whose counts add up to more than
      // count, or undefined. We halve once more instead.
      while (this._scale > MIN_SCALE && !fits(b, index, this._maxSize)) {
        this._downscale(1);
        index = mapToIndex(value, this._scale);
      }
    }
    this._incrementIndexBy(b, index, 1);
  }

  /** Adds to the bucket of `index`, widening the window (and the array) as needed. */
  private _incrementIndexBy(b: Buckets, index: number, increment: number): void {
    if (increment === 0) return;
    if (b.length === 0) b.start = b.end = b.base = index;
    if (index < b.start) {
      const span = b.end - index;
      if (span >= b.counts.length) b.grow(span + 1, this._maxSize);
      b.start = index;
    } else if (index > b.end) {
      const span = index - b.start;
      if (span >= b.counts.length) b.grow(span + 1, this._maxSize);
      b.end = index;
    }
    let i = index - b.base;
    if (i < 0) i += b.counts.length;
    // Only a merge of inconsistent cells could point outside the array; the
    // SDK would write there, we drop it rather than corrupt the array.
    if (i >= 0 && i < b.counts.length) b.counts[i] += increment;
  }

  /** Lowers the mapping's scale by `change`, merging buckets on both sides. */
  private _downscale(change: number): void {
    if (!(change > 0)) return;
    // The SDK would throw below -10 (unreachable with consistent cells); never throw here.
    if (this._scale - change < MIN_SCALE) change = this._scale - MIN_SCALE;
    if (change <= 0) return;
    this._downscaleSides(change);
    this._scale -= change;
  }

  private _downscaleSides(change: number): void {
    if (this._positive !== null) this._positive.downscale(change);
    if (this._negative !== null) this._negative.downscale(change);
  }

  /** The scale both this (at `thisScale`) and other fit at, within maxSize buckets per side. */
  private _minScale(thisScale: number, other: ExponentialCell): number {
    const otherScale = other.scale;
    const minScale = Math.min(thisScale, otherScale);
    const [posLow1, posHigh1] = highLowAtScale(this._positive, thisScale, minScale);
    const [posLow2, posHigh2] = highLowAtScale(other._positive, otherScale, minScale);
    const [negLow1, negHigh1] = highLowAtScale(this._negative, thisScale, minScale);
    const [negLow2, negHigh2] = highLowAtScale(other._negative, otherScale, minScale);
    return Math.min(
      minScale - changeScale(Math.max(posHigh1, posHigh2), Math.min(posLow1, posLow2), this._maxSize),
      minScale - changeScale(Math.max(negHigh1, negHigh2), Math.min(negLow1, negLow2), this._maxSize),
    );
  }

  /** Adds other's side (`theirs`) into ours, its indices brought to `scale`. */
  private _mergeBuckets(ours: Buckets, other: ExponentialCell, theirs: Buckets, scale: number): void {
    const theirOffset = theirs.start;
    const theirChange = other.scale - scale;
    const n = theirs.length;
    for (let i = 0; i < n; i++) this._incrementIndexBy(ours, (theirOffset + i) >> theirChange, theirs.at(i));
  }

  private _diff(other: ExponentialCell): void {
    this._min = Infinity;
    this._max = -Infinity;
    this._sum -= other._sum;
    this._count -= other._count;
    this._zeroCount -= other._zeroCount;
    // The SDK uses the reported scale, which is 0 once the counts say "only
    // zeros" even though buckets remain to be subtracted at the real scale.
    // There, and only there (unless the real scale is 0 too), we use the real scale.
    const stale =
      this._count === this._zeroCount && this._scale !== 0 && (lengthOf(this._positive) > 0 || lengthOf(this._negative) > 0);
    const thisScale = stale ? this._scale : this.scale;
    const minScale = this._minScale(thisScale, other);
    this._downscale(thisScale - minScale);
    if (this._positive !== null) this._diffBuckets(this._positive, other, other._positive, minScale);
    if (this._negative !== null) this._diffBuckets(this._negative, other, other._negative, minScale);
    if (stale) {
      // Emptied sides read as fresh ones (offset 0), like the SDK's point for such an interval.
      if (lengthOf(this._positive) === 0) this._positive = null;
      if (lengthOf(this._negative) === 0) this._negative = null;
    }
  }

  /** Subtracts other's side from ours (floored at 0), then trims empty edges. */
  private _diffBuckets(ours: Buckets, other: ExponentialCell, theirs: Buckets | null, scale: number): void {
    if (theirs !== null) {
      const theirOffset = theirs.start;
      const theirChange = other.scale - scale;
      const counts = ours.counts;
      const n = theirs.length;
      for (let i = 0; i < n; i++) {
        let j = ((theirOffset + i) >> theirChange) - ours.base;
        if (j < 0) j += counts.length;
        // Outside the array only when `previous` is not an earlier state of this cell.
        if (j < 0 || j >= counts.length) continue;
        const d = theirs.at(i);
        counts[j] = counts[j]! >= d ? counts[j]! - d : 0;
      }
    }
    ours.trim();
  }
}

/** Whether index can join the side's window within maxSize buckets. */
function fits(b: Buckets, index: number, maxSize: number): boolean {
  if (index < b.start) return b.end - index < maxSize;
  if (index > b.end) return index - b.start < maxSize;
  return true;
}

function lengthOf(b: Buckets | null): number {
  return b === null ? 0 : b.length;
}

function side(b: Buckets | null): { offset: number; bucketCounts: number[] } {
  return b === null ? { offset: 0, bucketCounts: [] } : { offset: b.start, bucketCounts: b.toArray() };
}

function fromSide(s: { offset: number; bucketCounts: number[] } | undefined): Buckets | null {
  const offset = s?.offset ?? 0;
  const counts = s?.bucketCounts ?? [];
  if (counts.length === 0) {
    // The SDK's diff can leave an emptied side at its old offset; keep it, so value() round trips.
    return offset === 0 ? null : new Buckets([0], offset, offset, offset);
  }
  const b = new Buckets(counts.slice(), offset, offset, offset + counts.length - 1);
  b.trim();
  if (b.length === 0) return null;
  // No slots past the window (trim left it at counts[0]) if the input had empty edges.
  const n = b.end - b.start + 1;
  if (Number.isInteger(n) && n >= 1 && n < b.counts.length) b.counts.length = n;
  return b;
}
