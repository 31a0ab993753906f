import { describe, expect, it } from 'vitest';
import { packTransactions } from '../../shared/dynamodb/transact.ts';
import type { Reaction, ReactionType } from '../../schemas/reaction.ts';
import { Random } from '../../apps/synthetic/random.ts';
import {
  applyReactions,
  counterDelta,
  itemOf,
  noReaction,
  pairKey,
  pendingEvents,
  planBatch,
  reactionFlags as F,
  storedPairOf,
  type Counters,
  type PairState,
  type PositionedReaction,
  type StoredPair,
} from '../../workers/reactions/decide.ts';

let seq = 0;
// Each reaction made is a record at the next offset; passing the same one twice is a redelivery.
const offsets = new Map<Reaction, number>();
const reaction = (type: ReactionType, time: number, over: Partial<Reaction> = {}): Reaction => {
  const r = { event_id: `e${++seq}`, type, content_id: 'k1', user_id: 'u1', event_time: time, ...over };
  offsets.set(r, seq);
  return r;
};
const apply = (state: PairState, events: readonly Reaction[]) =>
  applyReactions(
    state,
    events.map((r) => ({ reaction: r, offset: offsets.get(r)! })),
  );

describe('reaction state of one user and koo', () => {
  it('counts a like once however often it arrives, and an unlike undoes it', () => {
    const like = reaction('like', 100);
    expect(apply(noReaction, [like]).flags).toBe(F.like);
    expect(apply(noReaction, [like, like, like]).flags).toBe(F.like);
    expect(apply(noReaction, [like, reaction('like', 101)]).flags).toBe(F.like); // a second like is not a second like
    expect(apply(noReaction, [like, reaction('unlike', 200)]).flags).toBe(0);
  });

  it('lets the latest like or unlike decide, whatever the delivery order (a late duplicate cannot re-like)', () => {
    const like = reaction('like', 100);
    const unlike = reaction('unlike', 200);
    const afterUnlike = apply(apply(noReaction, [like]), [unlike]);
    expect(afterUnlike.flags).toBe(0);
    expect(apply(afterUnlike, [like]).flags).toBe(0); // redelivered after the unlike
    expect(apply(noReaction, [unlike, like]).flags).toBe(0); // delivered out of order
    // Same millisecond: the later in the log wins, in any delivery order.
    const like300 = reaction('like', 300);
    const unlike300 = reaction('unlike', 300);
    expect(apply(noReaction, [like300, unlike300]).flags).toBe(0);
    expect(apply(noReaction, [unlike300, like300]).flags).toBe(0);
    const relike300 = reaction('like', 300);
    expect(apply(noReaction, [relike300, unlike300, like300]).flags).toBe(F.like);
  });

  it('sets shares and rekoos once per user, beside the like', () => {
    const s = apply(noReaction, [
      reaction('share', 1),
      reaction('share', 2),
      reaction('rekoo', 3),
      reaction('like', 4),
    ]);
    expect(s.flags).toBe(F.like | F.share | F.rekoo);
    expect(s.reactedAt).toBe(4);
    expect(counterDelta(0, s.flags)).toEqual({ likes: 1, shares: 1, rekoos: 1 });
    expect(counterDelta(s.flags, apply(s, [reaction('unlike', 5)]).flags)).toEqual({
      likes: -1,
      shares: 0,
      rekoos: 0,
    });
  });

  it('reaches the same state for any order and split of the same events (property over seeds)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = new Random(seed);
      const events = Array.from({ length: 1 + rnd.int(12) }, () =>
        reaction(rnd.pick(['like', 'unlike', 'share', 'rekoo'] as const), rnd.int(20)),
      );
      const withDuplicates = [...events, ...events.filter(() => rnd.next() < 0.3)];
      const shuffled = [...withDuplicates].sort(() => rnd.next() - 0.5);
      const cut = rnd.int(shuffled.length + 1);
      const inTwoBatches = apply(apply(noReaction, shuffled.slice(0, cut)), shuffled.slice(cut));
      expect(inTwoBatches, `seed ${seed}`).toEqual(apply(noReaction, events));
    }
  });
});

// The stores of the worker, in memory: what the fence math must keep exact across crashes.
interface Model {
  fences: Map<string, number>;
  counters: Map<string, Counters>;
  items: Map<string, StoredPair>;
}
const emptyModel = (): Model => ({ fences: new Map(), counters: new Map(), items: new Map() });

/**
 * Runs a batch as the worker does: steps packed into transactions (each all or nothing, each step
 * only on the fence it expects); `crash` stops it after `partial` transactions.
 */
function runBatch(
  m: Model,
  batch: PositionedReaction[],
  crash?: { partial: number },
  maxItems?: number,
): void {
  const steps = planBatch(pendingEvents(batch, m.fences), m.fences, m.items, maxItems);
  const transactions = packTransactions(
    [...Map.groupBy(steps, (s) => s.contentId).values()],
    (s) => s.items.length + 1,
  ).flat();
  for (const transaction of crash ? transactions.slice(0, crash.partial) : transactions) {
    for (const step of transaction) {
      expect(m.fences.get(step.contentId)).toBe(step.expectedFence);
      expect(step.items.length).toBeLessThanOrEqual(maxItems ?? 99);
    }
    for (const step of transaction) {
      for (const w of step.items) m.items.set(pairKey(w.contentId, w.userId), w.stored);
      const c = m.counters.get(step.contentId) ?? { likes: 0, shares: 0, rekoos: 0 };
      m.counters.set(step.contentId, {
        likes: c.likes + step.delta.likes,
        shares: c.shares + step.delta.shares,
        rekoos: c.rekoos + step.delta.rekoos,
      });
      m.fences.set(step.contentId, step.fence);
    }
  }
}

/**
 * The counts the spec gives, computed independently: per user, the latest like/unlike by event
 * time decides (the later in the log of the same millisecond); any share or rekoo counts once.
 */
function oracle(log: readonly PositionedReaction[]): Map<string, Counters> {
  const latest = new Map<string, PositionedReaction>();
  const shared = new Set<string>();
  const rekooed = new Set<string>();
  for (const entry of log) {
    const e = entry.reaction;
    const key = pairKey(e.content_id, e.user_id);
    if (e.type === 'share') shared.add(key);
    else if (e.type === 'rekoo') rekooed.add(key);
    else {
      const l = latest.get(key);
      const time = l?.reaction.event_time;
      if (!l || e.event_time > time! || (e.event_time === time && entry.offset > l.offset))
        latest.set(key, entry);
    }
  }
  const out = new Map<string, Counters>();
  const bump = (key: string, k: keyof Counters) => {
    const koo = key.split('\u0000')[0]!;
    const c = out.get(koo) ?? { likes: 0, shares: 0, rekoos: 0 };
    c[k]++;
    out.set(koo, c);
  };
  for (const [key, e] of latest) if (e.reaction.type === 'like') bump(key, 'likes');
  for (const key of shared) bump(key, 'shares');
  for (const key of rekooed) bump(key, 'rekoos');
  return out;
}

const nonZero = (m: Map<string, Counters>) =>
  new Map([...m].filter(([, c]) => c.likes !== 0 || c.shares !== 0 || c.rekoos !== 0));

describe('a batch', () => {
  const at = (offset: number, r: Reaction): PositionedReaction => ({ offset, reaction: r });

  it('counts each change once: a replay writes nothing, and retries count nothing again', () => {
    const m = emptyModel();
    const log = [
      at(0, reaction('like', 1)),
      at(1, reaction('like', 2, { user_id: 'u2' })),
      at(2, reaction('share', 3)),
    ];
    runBatch(m, log);
    expect(m.counters.get('k1')).toEqual({ likes: 2, shares: 1, rekoos: 0 });
    expect(m.fences.get('k1')).toBe(2);
    expect(planBatch(log, m.fences, m.items)).toEqual([]); // replay: all behind the fence
    // An app's retries (same events, new offsets): later in the log, but nothing new to count.
    runBatch(m, [at(3, log[0]!.reaction), at(4, log[2]!.reaction)]);
    expect(m.counters.get('k1')).toEqual({ likes: 2, shares: 1, rekoos: 0 });
    expect(planBatch([at(4, log[2]!.reaction)], m.fences, m.items)).toEqual([]); // redelivered: behind the fence
  });

  it('writes a koo with more users than a transaction holds in steps that follow each other', () => {
    const m = emptyModel();
    const log = Array.from({ length: 250 }, (_, i) =>
      at(100 + i, reaction('like', i, { user_id: `u${i % 120}` })),
    );
    const steps = planBatch(log, m.fences, m.items, 50);
    expect(steps.map((s) => [s.expectedFence, s.fence, s.items.length])).toEqual([
      [undefined, 149, 50],
      [149, 199, 50],
      [199, 249, 50],
      [249, 299, 50],
      [299, 349, 50],
    ]);
    runBatch(m, log, { partial: 2 }, 50); // a crash after two of them
    expect(m.counters.get('k1')).toEqual({ likes: 100, shares: 0, rekoos: 0 });
    runBatch(m, log, undefined, 50); // redelivered: resumes after the second step's fence
    expect(m.counters.get('k1')).toEqual({ likes: 120, shares: 0, rekoos: 0 });
  });

  it('counts an item written before its counters moved (the former two-step writes) from what the counters held', () => {
    const m = emptyModel();
    runBatch(m, [at(10, reaction('like', 1))]);
    // u2's like was stored for fence 12, but the counters never reached it (a crash in between).
    const liked = apply(noReaction, [reaction('like', 3, { user_id: 'u2' })]);
    m.items.set(pairKey('k1', 'u2'), { state: liked, countedFlags: 0, offset: 12 });
    runBatch(m, [at(11, reaction('rekoo', 2)), at(12, reaction('like', 3, { user_id: 'u2' }))]);
    expect(m.counters.get('k1')).toEqual({ likes: 2, shares: 0, rekoos: 1 });
  });

  it('ends with the exact counts for any batching, crash points, duplicates and replays (property over seeds)', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const rnd = new Random(seed);
      const koos = ['a', 'b', 'c'];
      const users = ['u1', 'u2', 'u3', 'u4'];
      const produced: Reaction[] = [];
      for (let i = 0; i < 60; i++) {
        const dup = produced.length > 0 && rnd.next() < 0.2;
        produced.push(
          dup
            ? rnd.pick(produced)
            : reaction(rnd.pick(['like', 'like', 'unlike', 'share', 'rekoo'] as const), rnd.int(40), {
                content_id: rnd.pick(koos),
                user_id: rnd.pick(users),
              }),
        );
      }
      const log = produced.map((r, offset) => at(offset, r));
      const m = emptyModel();
      for (let committed = 0; committed < log.length;) {
        const batch = log.slice(committed, committed + 1 + rnd.int(15));
        const maxItems = 1 + rnd.int(4);
        if (rnd.next() < 0.3) runBatch(m, batch, { partial: rnd.int(3) }, maxItems);
        else {
          runBatch(m, batch, undefined, maxItems);
          committed += batch.length;
        }
      }
      runBatch(m, log); // a replay from offset 0
      expect(nonZero(m.counters), `seed ${seed}`).toEqual(oracle(log));
    }
  });

  it('stores a state with what the counters held, and a taken-back like as a tombstone with a TTL', () => {
    const state = applyReactions(noReaction, [{ reaction: reaction('like', 5), offset: 6 }]);
    const item = itemOf({ contentId: 'k', userId: 'u', stored: { state, countedFlags: 0, offset: 7 } }, 999);
    expect(item).toEqual({ id: 'k', u: 'u', f: F.like, lt: 5, lo: 6, at: 5, pf: 0, o: 7 });
    expect(storedPairOf(item)).toEqual({ state, countedFlags: 0, offset: 7 });
    const undone = apply(state, [reaction('unlike', 6)]);
    expect(
      itemOf(
        { contentId: 'k', userId: 'u', stored: { state: undone, countedFlags: F.like, offset: 8 } },
        999,
      ),
    ).toMatchObject({
      f: 0,
      ttl: 999,
    });
  });
});
