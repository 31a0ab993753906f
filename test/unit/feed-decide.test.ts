import { describe, expect, it } from 'vitest';
import { decodeFeedEvent } from '../../workers/feed/feed-worker.ts';
import {
  backfillKoos,
  feedEntry,
  feedSortKey,
  isPulledAuthor,
  jobOutcome,
  keysBeyondCap,
  kooJob,
  kooJobs,
  planJob,
  recordExpiry,
  trimsOnWrite,
  type FeedSettings,
  type KooJob,
} from '../../workers/feed/decide.ts';
import {
  countDeltas,
  edgeChange,
  edgeStep,
  packTransactions,
  type EdgeWrite,
} from '../../workers/feed/graph-decide.ts';
import { mergeFeedRefs, nextFeedCursor, type FeedRef } from '../../workers/feed/feed-page.ts';
import { envelope, kooRow, rawRecord } from '../support/cdc-events.ts';

const settings: FeedSettings = {
  entryTtlSeconds: 30 * 86_400,
  tombstoneTtlSeconds: 35 * 86_400,
  eminentFollowers: 1000,
  cap: 3,
  trimEvery: 4,
};
const now = Date.parse('2026-11-27T12:00:00Z');

function kooChange(op: 'c' | 'u' | 'd', overrides: Record<string, unknown> = {}, lsn = 100) {
  const row = kooRow('k1', { created_at: '2026-11-27T08:00:00Z', ...overrides });
  const event = decodeFeedEvent(
    rawRecord('koo.public.koos', envelope('koos', op, op === 'c' ? null : row, op === 'd' ? null : row, lsn)),
  );
  if (event?.kind !== 'koo') throw new Error('expected a koo event');
  return event.change;
}

function follow(op: 'c' | 'd', lsn: number, follower = 'f1', followee = 'a1') {
  const row = { follower_id: follower, followee_id: followee, created_at: '2026-11-27T09:00:00Z' };
  const event = decodeFeedEvent(
    rawRecord(
      'koo.public.follows',
      envelope('follows', op, op === 'd' ? row : null, op === 'd' ? null : row, lsn),
    ),
  );
  if (event?.kind !== 'follow') throw new Error('expected a follow event');
  return edgeChange(event.change, 3);
}

const push: KooJob = {
  kind: 'push',
  koo: { contentId: 'k1', authorId: 'a1', createdAtMs: now },
  version: 100,
};
const retract: KooJob = { ...push, kind: 'retract', version: 200 };

describe('feed entries', () => {
  it('orders entries by creation time with a key that is the same on every replay', () => {
    expect(feedSortKey(1_764_000_000_000, 'abc')).toBe('1764000000000#abc');
    expect(feedSortKey(5, 'x')).toBe('0000000000005#x');
    expect(feedSortKey(999, 'a') < feedSortKey(1000, 'a')).toBe(true);
    expect(feedEntry('u1', push.koo, settings)).toEqual({
      id: 'u1',
      k: feedSortKey(now, 'k1'),
      a: 'a1',
      c: 'k1',
      ttl: now / 1000 + settings.entryTtlSeconds,
    });
  });

  it('pushes new top-level koos, retracts deletes, and ignores replies, edits and expired koos', () => {
    expect(kooJob(kooChange('c'), now, settings)).toMatchObject({ kind: 'push', version: 100 });
    expect(kooJob(kooChange('d'), now, settings)).toMatchObject({ kind: 'retract' });
    expect(kooJob(kooChange('c', { parent_id: 'k0' }), now, settings)).toBeNull();
    expect(kooJob(kooChange('d', { parent_id: 'k0' }), now, settings)).toBeNull();
    expect(kooJob(kooChange('u'), now, settings)).toBeNull();
    expect(kooJob(kooChange('c', { created_at: '2026-10-01T00:00:00Z' }), now, settings)).toBeNull();
  });

  it('trims on a deterministic share of writes, keeping the newest entries', () => {
    const decisions = Array.from({ length: 4000 }, (_, i) => trimsOnWrite(`f${i}`, 'k1', settings));
    const share = decisions.filter(Boolean).length / decisions.length;
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.3);
    expect(trimsOnWrite('f7', 'k1', settings)).toBe(trimsOnWrite('f7', 'k1', settings));
    expect(trimsOnWrite('f7', 'k1', { ...settings, trimEvery: 1 })).toBe(true);
    expect(trimsOnWrite('f7', 'k1', { ...settings, trimEvery: 0 })).toBe(false);
    expect(keysBeyondCap(['5', '4', '3', '2', '1'], 3)).toEqual(['2', '1']);
    expect(keysBeyondCap(['5'], 3)).toEqual([]);
  });
});

describe('fan-out jobs', () => {
  it('fans out a koo created and edited in the same batch (the edit does not hide the create)', () => {
    const jobs = kooJobs([kooChange('c', {}, 100), kooChange('u', {}, 101)], now, settings);
    expect(jobs).toMatchObject([{ kind: 'push', version: 100, koo: { contentId: 'k1' } }]);
    // A delete after them is the newest thing asked of the feeds.
    expect(
      kooJobs([kooChange('c', {}, 100), kooChange('u', {}, 101), kooChange('d', {}, 102)], now, settings),
    ).toMatchObject([{ kind: 'retract', version: 102 }]);
  });

  it('starts, resumes, skips or settles by the fan-out record', () => {
    expect(planJob(push, undefined)).toEqual({ action: 'start' });
    expect(planJob(push, { state: 'push', version: 100, cursor: 'r#f9', written: 500 })).toEqual({
      action: 'resume',
      cursor: 'r#f9',
      written: 500,
    });
    expect(planJob(push, { state: 'pushed', version: 100, written: 9 })).toEqual({ action: 'skip' });
    // A re-snapshot reads the koo's row again at a newer position: its fan-out is done (or pulled).
    expect(planJob(push, { state: 'pushed', version: 40, written: 9 })).toEqual({ action: 'skip' });
    expect(planJob(push, { state: 'pulled', version: 40, written: 0 })).toEqual({ action: 'skip' });
    expect(planJob(push, { state: 'push', version: 40, cursor: 'r#f9', written: 5 })).toEqual({
      action: 'start',
    });
    // A replayed create after the delete: the tombstone record fences it (no resurrection).
    expect(planJob(push, { state: 'retracted', version: 200, written: 9 })).toEqual({ action: 'skip' });
    expect(planJob(retract, { state: 'pushed', version: 100, written: 9 })).toEqual({ action: 'start' });
    expect(planJob(retract, { state: 'retract', version: 200, written: 4 })).toMatchObject({
      action: 'resume',
    });
    expect(planJob(retract, undefined)).toEqual({ action: 'settle' });
    expect(planJob(retract, { state: 'pulled', version: 100, written: 0 })).toEqual({ action: 'settle' });
  });

  it('pulls eminent authors instead of pushing, and needs no paging without followers', () => {
    expect(isPulledAuthor({ e: true }, 3, settings)).toBe(true);
    expect(isPulledAuthor({ e: false }, 1001, settings)).toBe(true);
    expect(isPulledAuthor(undefined, 1000, settings)).toBe(false);
    const start = { action: 'start' } as const;
    expect(jobOutcome(push, start, { e: true }, 10, settings)).toBe('pulled');
    expect(jobOutcome(push, start, undefined, 0, settings)).toBe('pushed');
    expect(jobOutcome(push, start, undefined, 10, settings)).toBe('run');
    expect(jobOutcome(push, { action: 'resume', cursor: 'r#x', written: 1 }, { e: true }, 10, settings)).toBe(
      'run',
    );
    expect(jobOutcome(retract, { action: 'settle' }, undefined, 10, settings)).toBe('retracted');
    expect(jobOutcome(retract, start, undefined, 10, settings)).toBe('run');
  });

  it('keeps a record as long as its entries and past the topic retention', () => {
    expect(recordExpiry(push, now, settings)).toBe(now / 1000 + settings.tombstoneTtlSeconds);
    const old = { ...push, koo: { ...push.koo, createdAtMs: now + 10 * 86_400_000 } };
    expect(recordExpiry(old, now, settings)).toBe(old.koo.createdAtMs / 1000 + settings.entryTtlSeconds);
  });

  it('backfills the newest live top-level koos', () => {
    const items = [
      { id: 'r', c: 'a1', ca: now - 1, p: 'x' },
      { id: 'k3', c: 'a1', ca: now - 2 },
      { id: 'k2', c: 'a1', ca: now - 3 },
      { id: 'k1', c: 'a1', ca: now - 4 },
      { id: 'old', c: 'a1', ca: now - 40 * 86_400_000 },
    ];
    expect(backfillKoos(items, 2, now, settings).map((k) => k.contentId)).toEqual(['k3', 'k2']);
    expect(backfillKoos(items, 10, now, settings).map((k) => k.contentId)).toEqual(['k3', 'k2', 'k1']);
  });
});

describe('the graph', () => {
  it('applies a change only over older ones, and counts only flips', () => {
    const on = follow('c', 100);
    expect(on).toMatchObject({ followerId: 'f1', followeeId: 'a1', active: true, version: 100 });
    expect(follow('d', 200).active).toBe(false);
    expect(edgeStep(on, { active: false, version: 0 })).toBe('flip');
    expect(edgeStep(on, { active: true, version: 100 })).toBe('redo');
    expect(edgeStep(on, { active: false, version: 200 })).toBe('stale');
    expect(edgeStep(on, { active: true, version: 50 })).toBe('refresh');
  });

  it('sums count changes per counts item (user and follows partition) and packs transactions within 100 items', () => {
    const write = (
      follower: string,
      followee: string,
      active: boolean,
      flips = true,
      partition = 0,
    ): EdgeWrite => ({
      change: { followerId: follower, followeeId: followee, active, version: 1, followedAtMs: 0, partition },
      expectedVersion: 0,
      flips,
    });
    const deltas = countDeltas([
      write('f1', 'a1', true),
      write('f2', 'a1', true),
      write('f1', 'a2', false),
      write('f3', 'a1', false, false),
      write('f4', 'a1', true, true, 5),
    ]);
    expect(deltas).toEqual([
      { userId: 'a1', partition: 0, followers: 2, following: 0 },
      { userId: 'f1', partition: 0, followers: 0, following: 0 },
      { userId: 'f2', partition: 0, followers: 0, following: 1 },
      { userId: 'a2', partition: 0, followers: -1, following: 0 },
      { userId: 'a1', partition: 5, followers: 1, following: 0 },
      { userId: 'f4', partition: 5, followers: 0, following: 1 },
    ]);
    // One author's many followers: 2 edge items each plus one counts item per user.
    const fans = Array.from({ length: 60 }, (_, i) => write(`f${i}`, 'a1', true));
    const groups = packTransactions(fans).flat();
    for (const g of groups) {
      const users = new Set(g.flatMap((w) => [w.change.followerId, w.change.followeeId]));
      expect(g.length * 2 + users.size).toBeLessThanOrEqual(100);
    }
    expect(groups.flat()).toHaveLength(60);
  });

  it('puts transactions that share a counts item in successive rounds, the others together', () => {
    const write = (follower: string, followee: string, partition = 0, flips = true): EdgeWrite => ({
      change: {
        followerId: follower,
        followeeId: followee,
        active: true,
        version: 1,
        followedAtMs: 0,
        partition,
      },
      expectedVersion: 0,
      flips,
    });
    // A celebrity's 100 new followers from one partition: three transactions, one after the other.
    const celebrity = Array.from({ length: 100 }, (_, i) => write(`f${i}`, 'star'));
    expect(packTransactions(celebrity).map((round) => round.length)).toEqual([1, 1, 1, 1]);
    // Unrelated follows share no item: one round. The same author's count on another partition is another item.
    const spread = [
      ...Array.from({ length: 40 }, (_, i) => write(`g${i}`, `a${i}`)),
      ...Array.from({ length: 40 }, (_, i) => write(`h${i}`, `b${i}`)),
    ];
    expect(packTransactions(spread).map((round) => round.length)).toEqual([4]);
    // Full transactions of the star's followers on partitions 0, 7, then 0 again: 0 and 7 together, then 0.
    const fans = (partition: number, from: number) =>
      Array.from({ length: 33 }, (_, i) => write(`f${from + i}`, 'star', partition));
    const rounds = packTransactions([...fans(0, 0), ...fans(7, 100), ...fans(0, 200)]);
    expect(rounds.map((round) => round.map((group) => group[0]!.change.partition))).toEqual([[0, 7], [0]]);
    // A write that flips nothing touches no counts item.
    expect(packTransactions([write('f1', 'star', 0, false), write('f2', 'star', 0, false)])).toHaveLength(1);
  });
});

describe('feed pages', () => {
  const ref = (key: string, id: string, source: FeedRef['source'] = 'pushed'): FeedRef => ({
    sortKey: `${key}#${id}`,
    contentId: id,
    authorId: 'a',
    source,
  });

  it('merges pushed and pulled koos newest first, each once, older than the cursor', () => {
    const pushed = [ref('0005', 'e'), ref('0003', 'c'), ref('0001', 'a')];
    const pulled = [ref('0004', 'd', 'pulled'), ref('0003', 'c', 'pulled'), ref('0002', 'b', 'pulled')];
    const page = mergeFeedRefs([pushed, pulled], 3);
    expect(page.map((r) => r.contentId)).toEqual(['e', 'd', 'c']);
    expect(page[2]!.source).toBe('pushed');
    const cursor = nextFeedCursor(page, 3, { served: 0 })!;
    expect(cursor).toEqual({ before: '0003#c', served: 2 });
    expect(mergeFeedRefs([pushed, pulled], 3, cursor.before).map((r) => r.contentId)).toEqual(['b', 'a']);
    expect(nextFeedCursor([ref('0001', 'a')], 3, cursor)).toBeUndefined();
  });
});
