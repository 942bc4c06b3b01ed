// TEMPORARY STUB (not committed): replaced by the real port.
export interface ExponentialValue { count: number; sum: number; min?: number; max?: number; scale: number; zeroCount: number;
  positive: { offset: number; bucketCounts: number[] }; negative: { offset: number; bucketCounts: number[] } }
export class ExponentialCell {
  count = 0; sum = 0; min = Infinity; max = -Infinity; scale = 20; zeroCount = 0;
  constructor(_maxSize?: number, _recordMinMax?: boolean) {}
  record(v: number): void { this.count++; this.sum += v; }
  value(): ExponentialValue { return { count: this.count, sum: this.sum, scale: this.scale, zeroCount: 0, positive: { offset: 0, bucketCounts: [] }, negative: { offset: 0, bucketCounts: [] } }; }
  clone(): ExponentialCell { const c = new ExponentialCell(); c.count = this.count; c.sum = this.sum; return c; }
  merge(o: ExponentialCell): void { this.count += o.count; }
  diff(p: ExponentialCell): ExponentialCell { const c = this.clone(); c.count -= p.count; c.sum -= p.sum; return c; }
  static fromValue(v: ExponentialValue): ExponentialCell { const c = new ExponentialCell(); c.count = v.count; return c; }
}
