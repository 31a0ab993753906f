import type { Reaction } from '../../schemas/reaction.ts';
import { contentAttr as A, reactionAttr as R } from '../../schemas/koo-content.ts';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';
import { MAX_TRANSACT_ITEMS } from '../../shared/dynamodb/transact.ts';

/**
 * The reactions worker's pure logic.
 *
 * State: a user's reactions to a koo fold into one state that does not depend on the order or
 * the number of times events arrive (the like bit follows the latest like or unlike by event time,
 * then by offset: of two in the same millisecond the later in the log wins; shares and rekoos are
 * set once), so re-applying an event never changes it.
 *
 * Counters: a koo's reactions share one partition (the key is the content id), so the koo item
 * keeps the offset of the last reaction its counters include (the fence); a batch counts only
 * events past it. Each step of a koo writes its who-reacted items, its counter changes and the
 * new fence in one transaction conditioned on the fence it read: a second writer of the partition
 * (a member evicted mid-batch that keeps running, a backfill beside the live group) cannot
 * overwrite the items the counters were moved by, nor count an event twice; the loser reads again.
 * An item also keeps the flags the counters held before it and the fence it was written for
 * (`countedFlags`, `offset`): items written before the counters moved (the worker's former
 * two-step writes) still count from what the counters hold.
 */

export const reactionFlags = { like: 1, share: 2, rekoo: 4 } as const;

export interface PairState {
  /** Bit set of reactionFlags; 0 = no reaction (a tombstone once a like was taken back). */
  flags: number;
  /** The like or unlike that decides the like bit: its event time and offset. */
  likeClock?: LikeClock;
  /** Latest event time among the user's reactions to the koo. */
  reactedAt?: number;
}

/** A who-reacted item as stored. */
export interface StoredPair {
  state: PairState;
  /** The flags the counters held for this user before the write, until the fence reaches `offset`. */
  countedFlags: number;
  offset: number;
}

export const noReaction: PairState = { flags: 0 };

export interface Counters {
  likes: number;
  shares: number;
  rekoos: number;
}

/** A reaction and its offset in its partition. */
export interface PositionedReaction {
  reaction: Reaction;
  offset: number;
}

export interface LikeClock {
  time: number;
  /** -1 for a state stored before offsets were (it loses ties). */
  offset: number;
}

const later = (a: LikeClock, b: LikeClock | undefined) =>
  b === undefined || a.time > b.time || (a.time === b.time && a.offset > b.offset);

/** What the fold reads of a reaction (the engagement worker folds its own copy of the states). */
export interface PairEvent {
  reaction: Pick<Reaction, 'type' | 'event_time'>;
  offset: number;
}

/** Folds a user's reactions to one koo into its state; the result is the same in any order and with any redeliveries. */
export function applyReactions(before: PairState, events: readonly PairEvent[]): PairState {
  let { flags, likeClock, reactedAt } = before;
  for (const { reaction: e, offset } of events) {
    reactedAt = Math.max(reactedAt ?? e.event_time, e.event_time);
    if (e.type === 'share') flags |= reactionFlags.share;
    else if (e.type === 'rekoo') flags |= reactionFlags.rekoo;
    else {
      const clock = { time: e.event_time, offset };
      if (!later(clock, likeClock)) continue; // an older or repeated like/unlike: the latest decides
      likeClock = clock;
      flags = e.type === 'like' ? flags | reactionFlags.like : flags & ~reactionFlags.like;
    }
  }
  return { flags, ...(likeClock ? { likeClock } : {}), ...(reactedAt === undefined ? {} : { reactedAt }) };
}

export function sameState(a: PairState, b: PairState): boolean {
  return (
    a.flags === b.flags &&
    a.reactedAt === b.reactedAt &&
    a.likeClock?.time === b.likeClock?.time &&
    a.likeClock?.offset === b.likeClock?.offset
  );
}

const bit = (flags: number, flag: number) => ((flags & flag) === 0 ? 0 : 1);

/** How a koo's counters move when one user's flags go from `before` to `after`. */
export function counterDelta(before: number, after: number): Counters {
  return {
    likes: bit(after, reactionFlags.like) - bit(before, reactionFlags.like),
    shares: bit(after, reactionFlags.share) - bit(before, reactionFlags.share),
    rekoos: bit(after, reactionFlags.rekoo) - bit(before, reactionFlags.rekoo),
  };
}

/** The flags a koo's counters hold for one user, given the koo's fence (undefined: nothing counted yet). */
export function countedFlags(stored: StoredPair | undefined, fence: number | undefined): number {
  if (!stored) return 0;
  return fence !== undefined && stored.offset <= fence ? stored.state.flags : stored.countedFlags;
}

export const pairKey = (contentId: string, userId: string) => `${contentId}\u0000${userId}`;

export interface ItemWrite {
  contentId: string;
  userId: string;
  stored: StoredPair;
}

/** A transaction holds at most 100 actions: a step's items and its koo's counter update fit in one. */
export const MAX_ITEMS_PER_STEP = MAX_TRANSACT_ITEMS - 1;

/** All or nothing: who-reacted items of a koo, with its counter changes and fence (several share a transaction). */
export interface KooStep {
  contentId: string;
  /** The fence before the step (undefined: none yet); the step holds only if it is unchanged. */
  expectedFence: number | undefined;
  /** The offset of the step's last event: the fence after it. */
  fence: number;
  delta: Counters;
  items: ItemWrite[];
}

/**
 * Events of koos whose counters are fenced by offsets of another partition than this batch's
 * (a producer whose partitioner is not murmur2 of the key, as the Java client's and kafkajs's
 * are): offsets of different partitions do not compare, so these go to the DLQ instead of being
 * dropped as counted or counted against a foreign fence.
 */
export function misplacedEvents<E extends PositionedReaction>(
  events: readonly E[],
  partitions: ReadonlyMap<string, number>,
  partition: number,
): Set<E> {
  return new Set(
    events.filter((e) => {
      const fencedBy = partitions.get(e.reaction.content_id);
      return fencedBy !== undefined && fencedBy !== partition;
    }),
  );
}

/** Koos and (koo, user) pairs whose stored state a batch needs, after dropping events the fences already count. */
export function pendingEvents(
  events: readonly PositionedReaction[],
  fences: ReadonlyMap<string, number>,
): PositionedReaction[] {
  return events.filter((e) => e.offset > (fences.get(e.reaction.content_id) ?? -1));
}

/**
 * Cuts a koo's events (in offset order) into runs of at most `maxUsers` users each (a
 * transaction's items). `userOf` undefined: an event of no user (it joins any run).
 */
export function runsOfUsers<E>(
  events: readonly E[],
  maxUsers: number,
  userOf: (e: E) => string | undefined,
): E[][] {
  const runs: E[][] = [];
  let run: E[] = [];
  let users = new Set<string>();
  for (const e of events) {
    const user = userOf(e);
    if (user !== undefined && !users.has(user) && users.size === maxUsers) {
      runs.push(run);
      run = [];
      users = new Set();
    }
    run.push(e);
    if (user !== undefined) users.add(user);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * What a batch writes, as steps: per koo with events past its fence, runs of its events of at
 * most `maxItems` users, each run a step that stores each user's new state (with the flags the
 * counters held before) and moves the counters by the sum of their flag changes, to the fence of
 * the run's last offset. A koo's steps follow each other (each expects the fence of the one
 * before); a run that changes nothing is no step.
 */
export function planBatch(
  events: readonly PositionedReaction[],
  fences: ReadonlyMap<string, number>,
  stored: ReadonlyMap<string, StoredPair>,
  maxItems = MAX_ITEMS_PER_STEP,
): KooStep[] {
  const koos = new Map<string, PositionedReaction[]>();
  for (const e of pendingEvents(events, fences)) {
    const list = koos.get(e.reaction.content_id);
    if (list) list.push(e);
    else koos.set(e.reaction.content_id, [e]);
  }
  const steps: KooStep[] = [];
  for (const [contentId, kooEvents] of koos) {
    let fence = fences.get(contentId);
    const written = new Map<string, StoredPair>(); // by this koo's earlier steps
    for (const run of runsOfUsers(kooEvents, maxItems, (e) => e.reaction.user_id)) {
      const step = planStep(
        contentId,
        run,
        fence,
        (userId) => written.get(userId) ?? stored.get(pairKey(contentId, userId)),
      );
      if (!step) continue;
      for (const item of step.items) written.set(item.userId, item.stored);
      fence = step.fence;
      steps.push(step);
    }
  }
  return steps;
}

function planStep(
  contentId: string,
  run: readonly PositionedReaction[],
  fence: number | undefined,
  storedOf: (userId: string) => StoredPair | undefined,
): KooStep | undefined {
  const pairs = new Map<string, PositionedReaction[]>();
  for (const e of run) {
    const list = pairs.get(e.reaction.user_id);
    if (list) list.push(e);
    else pairs.set(e.reaction.user_id, [e]);
  }
  const stepFence = run.at(-1)!.offset;
  const step: KooStep = {
    contentId,
    expectedFence: fence,
    fence: stepFence,
    delta: { likes: 0, shares: 0, rekoos: 0 },
    items: [],
  };
  for (const [userId, list] of pairs) {
    const current = storedOf(userId);
    const state = applyReactions(current?.state ?? noReaction, list);
    const counted = countedFlags(current, fence);
    // Nothing new and nothing left to count: a duplicate or a replay.
    if (current && sameState(current.state, state) && counted === state.flags) continue;
    step.items.push({ contentId, userId, stored: { state, countedFlags: counted, offset: stepFence } });
    const d = counterDelta(counted, state.flags);
    step.delta.likes += d.likes;
    step.delta.shares += d.shares;
    step.delta.rekoos += d.rekoos;
  }
  return step.items.length > 0 ? step : undefined;
}

/** The stored state of a who-reacted item, or undefined when there is none. */
export function storedPairOf(item: Item | undefined): StoredPair | undefined {
  if (!item) return undefined;
  const time = item[R.likeTime] as number | undefined;
  return {
    state: {
      flags: item[R.flags] as number,
      ...(time === undefined
        ? {}
        : { likeClock: { time, offset: (item[R.likeOffset] as number | undefined) ?? -1 } }),
      ...(item[R.reactedAt] === undefined ? {} : { reactedAt: item[R.reactedAt] as number }),
    },
    countedFlags: item[R.countedFlags] as number,
    offset: item[R.offset] as number,
  };
}

/**
 * The item a write stores. A state without reactions is kept as a tombstone until
 * `expiresAtSeconds`: it remembers the unlike, so a late duplicate of the like it undid cannot
 * count again.
 */
export function itemOf(write: ItemWrite, expiresAtSeconds: number): Item {
  const { state, countedFlags: counted, offset } = write.stored;
  return {
    [R.contentId]: write.contentId,
    [R.userId]: write.userId,
    [R.flags]: state.flags,
    ...(state.likeClock
      ? { [R.likeTime]: state.likeClock.time, [R.likeOffset]: state.likeClock.offset }
      : {}),
    ...(state.reactedAt === undefined ? {} : { [R.reactedAt]: state.reactedAt }),
    [R.countedFlags]: counted,
    [R.offset]: offset,
    ...(state.flags === 0 ? { [R.expiresAt]: expiresAtSeconds } : {}),
  };
}

/** The counters as stored on the koo item (absent: zero). */
export function countersOf(koo: Item | undefined): Counters {
  return {
    likes: (koo?.[A.likes] as number | undefined) ?? 0,
    shares: (koo?.[A.shares] as number | undefined) ?? 0,
    rekoos: (koo?.[A.rekoos] as number | undefined) ?? 0,
  };
}
