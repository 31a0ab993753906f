/** A small seedable PRNG (mulberry32): the same seed gives the same workload. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  /** A 64-bit id as 16 hex characters. */
  id(): string {
    const hex = (n: number) =>
      Math.floor(n * 0x100000000)
        .toString(16)
        .padStart(8, '0');
    return hex(this.next()) + hex(this.next());
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Picks by weight. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [item, w] of items) {
      if ((r -= w) < 0) return item;
    }
    return items[items.length - 1]![0];
  }
}

/**
 * Zipf's law over ranks 0..n-1: rank r is drawn with probability proportional to 1/(r+1)^s, so a
 * few items take most draws (popular koos, followed accounts). The CDF is built once; a draw is a
 * binary search.
 */
export class Zipf {
  private readonly cdf: Float64Array;

  constructor(n: number, s = 1) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError('n must be a whole number of at least 1');
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 0; r < n; r++) this.cdf[r] = sum += 1 / (r + 1) ** s;
    for (let r = 0; r < n; r++) this.cdf[r]! /= sum;
  }

  rank(rnd: Random): number {
    const u = rnd.next();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
