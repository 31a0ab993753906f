import { describe, expect, it } from 'vitest';
import { Random } from '../../apps/synthetic/random.ts';
import { creationTimes } from '../../apps/synthetic/source-workload.ts';

describe('synthetic koos: creation times', () => {
  it('are distinct, increasing and spread over the span before now', () => {
    const before = Date.now();
    const times = creationTimes(new Random(7), 2000, 7_200_000)!.map((d) => d.getTime());
    expect(new Set(times).size).toBe(2000);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!);
    expect(times[0]!).toBeGreaterThanOrEqual(before - 7_200_000);
    expect(times[times.length - 1]!).toBeLessThanOrEqual(Date.now());
    // Spread, not bunched at one end: the middle koo is written near the middle of the span.
    expect(Math.abs(times[1000]! - (times[0]! + times[1999]!) / 2)).toBeLessThan(7_200_000 * 0.1);
  });

  it('are left to the database when no span is asked for', () => {
    expect(creationTimes(new Random(7), 10, undefined)).toBeUndefined();
  });
});
