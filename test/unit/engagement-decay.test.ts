import { describe, expect, it } from 'vitest';
import {
  contribution,
  landmarkOf,
  rankOfScore,
  rebase,
  scoreAt,
  scoreOfRank,
  trendingRank,
  type DecaySettings,
} from '../../workers/engagement/decay.ts';
import {
  planKoo,
  storedScoreOf,
  type EngagementWeights,
  type ScoreWrite,
} from '../../workers/engagement/decide.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const hourly: DecaySettings = { halfLifeMs: HOUR, landmarkPeriodMs: 4 * HOUR };
// The defaults: 6 h half-life, landmarks 28 half-lives (7 days) apart.
const production: DecaySettings = { halfLifeMs: 6 * HOUR, landmarkPeriodMs: 7 * DAY };
const weights: EngagementWeights = { like: 1, share: 3, rekoo: 2, reply: 4 };
const L = Date.UTC(2026, 10, 27); // a landmark: 2026-11-27 is a multiple of 4 h since the epoch

const relative = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('forward decay', () => {
  it('halves a score every half-life', () => {
    const stored = contribution(1, L, L, hourly);
    expect(stored).toBe(1);
    expect(scoreAt(stored, L, L, hourly)).toBe(1);
    expect(scoreAt(stored, L, L + HOUR, hourly)).toBe(0.5);
    expect(scoreAt(stored, L, L + 3 * HOUR, hourly)).toBe(0.125);
    expect(scoreAt(stored, L, L + 90 * 60_000, hourly)).toBeCloseTo(2 ** -1.5, 15);
  });

  it('weights events by type and by how recent they are', () => {
    // A like at L and a share one half-life later, read one half-life after the share.
    const stored =
      contribution(weights.like, L, L, hourly) + contribution(weights.share, L + HOUR, L, hourly);
    expect(stored).toBe(1 + 3 * 2);
    expect(scoreAt(stored, L, L + 2 * HOUR, hourly)).toBe(0.25 + 1.5);
  });

  it('adds contributions in any order (they commute)', () => {
    const times = [L + 7_000, L + 3 * HOUR, L + 1_234_567, L + 2 * HOUR];
    const forward = times.reduce((s, t) => s + contribution(2, t, L, hourly), 0);
    const backward = [...times].reverse().reduce((s, t) => s + contribution(2, t, L, hourly), 0);
    expect(relative(forward, backward)).toBeLessThan(1e-15);
  });

  it('re-bases exactly: landmarks are whole half-lives apart', () => {
    const x = 12.345678901234567;
    const moved = rebase(x, L, L + 7 * DAY, production);
    expect(moved).toBe(x * 2 ** -28);
    expect(rebase(moved, L + 7 * DAY, L, production)).toBe(x);
    expect(landmarkOf(L + 7 * DAY + 5, production) % (6 * HOUR)).toBe(0);
  });

  it('would overflow with one fixed landmark, which is why the landmark moves', () => {
    expect(contribution(1, L, 0, production)).toBe(Infinity);
    expect(
      contribution(1, L + 7 * DAY - 1, landmarkOf(L + 7 * DAY - 1, production), production),
    ).toBeLessThan(2 ** 28);
  });

  it('keeps a koo liked once per half-life for six months at the closed form 2 - 2^(1-n), through 25 landmark changes', () => {
    const start = landmarkOf(L, production);
    let item: Record<string, unknown> | undefined;
    let landmarks = 0;
    const n = (180 * DAY) / production.halfLifeMs;
    for (let i = 0; i < n; i++) {
      const t = start + i * production.halfLifeMs;
      const [step] = planKoo(
        'k',
        [{ event: { contentId: 'k', kind: 'like', timeMs: t, userId: `u${i}` }, offset: i }],
        storedScoreOf(item, 'efr0'),
        'efr0',
        new Map(),
        weights,
        production,
      );
      const write = step!.score;
      if (write.change.kind === 'set') landmarks++;
      item = applyLocally(item, write);
      const stored = item['es'] as number;
      expect(Number.isFinite(stored) && stored < 2 ** 29).toBe(true);
    }
    const last = start + (n - 1) * production.halfLifeMs;
    const score = scoreAt(item!['es'] as number, item!['lm'] as number, last, production);
    expect(landmarks).toBe(25);
    expect(relative(score, 2 - 2 ** (1 - n))).toBeLessThan(1e-12);
    // Three half-lives later, untouched: an eighth of that.
    expect(
      relative(
        scoreAt(item!['es'] as number, item!['lm'] as number, last + 18 * HOUR, production),
        (2 - 2 ** (1 - n)) / 8,
      ),
    ).toBeLessThan(1e-12);
  });

  it('ranks by log2 of the score relative to the epoch: one order at all times, scores back to 1e-10', () => {
    const now = Date.UTC(2026, 10, 27, 12);
    const lm = landmarkOf(now, production);
    const a = trendingRank(5, lm, production)!;
    const b = trendingRank(contribution(1, now, lm, production), lm, production)!;
    expect(relative(scoreOfRank(a, lm, production), 5)).toBeLessThan(1e-10);
    expect(relative(scoreOfRank(b, now + 6 * HOUR, production), 0.5)).toBeLessThan(1e-10);
    expect(rankOfScore(0.5, now + 6 * HOUR, production)).toBeCloseTo(b, 9);
    expect(trendingRank(0, lm, production)).toBeUndefined();
    expect(trendingRank(-1, lm, production)).toBeUndefined();
  });
});

/** What DynamoDB does with a planned write, for the long-run test. */
function applyLocally(item: Record<string, unknown> | undefined, w: ScoreWrite): Record<string, unknown> {
  const es =
    w.change.kind === 'add' ? ((item?.['es'] as number | undefined) ?? 0) + w.change.delta : w.change.score;
  return {
    ...item,
    es,
    lm: w.landmarkMs,
    ev: ((item?.['ev'] as number | undefined) ?? 0) + 1,
    [w.fence.attribute]: w.fence.to,
  };
}
