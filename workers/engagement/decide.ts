import { topicNames } from '../../schemas/topics.ts';
import { contentAttr as A, engagementPairAttr as P } from '../../schemas/koo-content.ts';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';
import {
  applyReactions,
  MAX_ITEMS_PER_STEP,
  noReaction,
  reactionFlags,
  runsOfUsers,
  type PairState,
} from '../reactions/decide.ts';
import { contribution, landmarkOf, rebase, type DecaySettings } from './decay.ts';

/**
 * The engagement worker's pure logic: events of one partition batch become one score write per
 * koo (more for a koo with more than a transaction's worth of users). A koo's fence for the
 * batch's source partition (the last offset applied from it) drops what was applied before, so a
 * redelivered, replayed or re-owned batch adds nothing twice.
 *
 * A reaction weighs what it changes of its user's state of the koo (`stateTerms`, the like bit
 * folded as the reactions worker folds it): a second like, an app's retry of a share, a rekoo
 * repeated add nothing, an unlike takes back only a like that stands. The states are the
 * worker's own (koo_engagement), written in the same transaction as the score and its fence.
 */

/** `delete`: the koo itself was deleted (moderated): it leaves trending for good and weighs nothing. */
export type EngagementKind = 'like' | 'unlike' | 'share' | 'rekoo' | 'reply' | 'delete';

/** One event that moves a koo's score: a reaction to it, or a reply to it. */
export interface EngagementEvent {
  contentId: string;
  kind: EngagementKind;
  timeMs: number;
  /**
   * Whose state of the koo it changes: the reacting user, or for a reply the reply itself
   * (`replyStateKey`), so that a reply counts once however often its row is read (a re-snapshot).
   */
  userId?: string;
}

/** The state key of a reply under its parent: once stored, a second read of the reply's row adds nothing. */
export function replyStateKey(replyId: string): string {
  return `reply#${replyId}`;
}

/** Weight per kind; an unlike takes back a like's weight (as of the unlike). */
export type EngagementWeights = Record<Exclude<EngagementKind, 'unlike' | 'delete'>, number>;

/** The weight of an event without a user's state (a reply, a delete). */
export function weightOf(kind: EngagementKind, weights: EngagementWeights): number {
  if (kind === 'delete') return 0;
  return kind === 'unlike' ? -weights.like : weights[kind];
}

/**
 * A user's reactions to a koo as the score counts them: the like bit as the reactions worker
 * folds it (the latest like or unlike by event time, then offset), and when the user first shared
 * and rekooed it.
 */
export interface EngagedState extends Omit<PairState, 'reactedAt'> {
  sharedAt?: number;
  rekooedAt?: number;
  /** A reply's state (keyed by `replyStateKey`): when it was created. */
  repliedAt?: number;
}

/** Folds one reaction into a user's state of a koo; the result does not depend on the order reactions arrive in. */
export function foldReaction(
  before: EngagedState,
  event: { kind: EngagementKind; timeMs: number },
  offset: number,
): EngagedState {
  const earliest = (at: number | undefined) => (at === undefined ? event.timeMs : Math.min(at, event.timeMs));
  if (event.kind === 'reply') return { ...before, repliedAt: earliest(before.repliedAt) };
  const type = event.kind as 'like' | 'unlike' | 'share' | 'rekoo';
  const { flags, likeClock } = applyReactions(before, [
    { reaction: { type, event_time: event.timeMs }, offset },
  ]);
  const sharedAt = type === 'share' ? earliest(before.sharedAt) : before.sharedAt;
  const rekooedAt = type === 'rekoo' ? earliest(before.rekooedAt) : before.rekooedAt;
  return {
    flags,
    ...(likeClock ? { likeClock } : {}),
    ...(sharedAt === undefined ? {} : { sharedAt }),
    ...(rekooedAt === undefined ? {} : { rekooedAt }),
    ...(before.repliedAt === undefined ? {} : { repliedAt: before.repliedAt }),
  };
}

/**
 * What a user's state adds to a koo's score: a standing like weighs a like at its time, a share
 * and a rekoo their weights at the first one's time. A koo's score is the decayed sum of these
 * over its users, whatever order, repetition or redelivery the reactions came in.
 */
export function stateTerms(
  state: EngagedState,
  weights: EngagementWeights,
): { weight: number; timeMs: number }[] {
  const terms: { weight: number; timeMs: number }[] = [];
  if ((state.flags & reactionFlags.like) !== 0 && state.likeClock)
    terms.push({ weight: weights.like, timeMs: state.likeClock.time });
  if (state.sharedAt !== undefined) terms.push({ weight: weights.share, timeMs: state.sharedAt });
  if (state.rekooedAt !== undefined) terms.push({ weight: weights.rekoo, timeMs: state.rekooedAt });
  if (state.repliedAt !== undefined) terms.push({ weight: weights.reply, timeMs: state.repliedAt });
  return terms;
}

function sameEngaged(a: EngagedState, b: EngagedState): boolean {
  return (
    a.flags === b.flags &&
    a.likeClock?.time === b.likeClock?.time &&
    a.likeClock?.offset === b.likeClock?.offset &&
    a.sharedAt === b.sharedAt &&
    a.rekooedAt === b.rekooedAt &&
    a.repliedAt === b.repliedAt
  );
}

/** An event with its source offset. */
export interface SourcedEvent {
  event: EngagementEvent;
  offset: number;
}

/**
 * The attribute that fences a koo's score against one source partition. Replies to a koo come from
 * every partition of koo.public.koos (keyed by the reply's id), so one fence per partition per
 * topic: each is advanced only by its partition's owner, in offset order.
 */
export function fenceAttribute(topic: string, partition: number): string {
  return `${A.scoreFencePrefix}${topic === topicNames.reactions ? 'r' : 'k'}${partition}`;
}

/** What is stored of a koo's score (an absent item has none). */
export interface StoredScore {
  score: number;
  landmarkMs: number | undefined;
  version: number;
  /** Last offset applied from this batch's partition. */
  fence: number | undefined;
}

export function storedScoreOf(item: Item | undefined, fence: string): StoredScore {
  return {
    score: (item?.[A.score] as number | undefined) ?? 0,
    landmarkMs: item?.[A.scoreLandmark] as number | undefined,
    version: (item?.[A.scoreVersion] as number | undefined) ?? 0,
    fence: item?.[fence] as number | undefined,
  };
}

/**
 * A koo's score write for one batch. `add` keeps the landmark and adds to the score (DynamoDB ADD,
 * conditioned on the landmark: writers from other partitions add alongside); `set` moves the
 * landmark, re-basing what was read (conditioned on the write count read: nothing added meanwhile).
 * Both move the fence from what was read to the batch's last offset for the koo.
 */
export interface ScoreWrite {
  contentId: string;
  fence: { attribute: string; from: number | undefined; to: number };
  landmarkMs: number;
  /** The koo was deleted: marked so that it never trends again. */
  retract: boolean;
  change:
    | { kind: 'add'; delta: number; landmarkFrom: number | undefined }
    | { kind: 'set'; score: number; versionFrom: number };
}

/** A user's state of a koo to store with a step. */
export interface PairWrite {
  userId: string;
  state: EngagedState;
}

/** One write of a koo: its score change and fence, and the states of the users it counted (one transaction). */
export interface EngagementStep {
  score: ScoreWrite;
  pairs: PairWrite[];
}

/**
 * Plans the writes of one koo's events from one partition (in offset order), none when the fence
 * shows all of them applied. `pairs` holds the stored states of the koo's users in the batch. The
 * landmark only moves forward, to the period of the latest event, in the first step; the steps
 * follow each other (each expects the fence the one before leaves).
 */
export function planKoo(
  contentId: string,
  events: readonly SourcedEvent[],
  stored: StoredScore,
  fenceAttr: string,
  pairs: ReadonlyMap<string, EngagedState>,
  weights: EngagementWeights,
  decay: DecaySettings,
  maxPairs = MAX_ITEMS_PER_STEP,
): EngagementStep[] {
  const fresh = stored.fence === undefined ? events : events.filter((e) => e.offset > stored.fence!);
  if (fresh.length === 0) return [];
  const latest = Math.max(...fresh.map((e) => e.event.timeMs));
  const landmarkMs = Math.max(stored.landmarkMs ?? -Infinity, landmarkOf(latest, decay));
  const states = new Map(pairs);
  const steps: EngagementStep[] = [];
  let fenceFrom = stored.fence;
  for (const run of runsOfUsers(fresh, maxPairs, (e) => e.event.userId)) {
    let delta = 0;
    const add = (weight: number, timeMs: number) =>
      (delta += contribution(weight, timeMs, landmarkMs, decay));
    const changed = new Map<string, EngagedState>();
    for (const { event, offset } of run) {
      if (event.userId === undefined) {
        add(weightOf(event.kind, weights), event.timeMs);
        continue;
      }
      const before = states.get(event.userId) ?? noReaction;
      const after = foldReaction(before, event, offset);
      if (sameEngaged(before, after)) continue;
      for (const t of stateTerms(before, weights)) add(-t.weight, t.timeMs);
      for (const t of stateTerms(after, weights)) add(t.weight, t.timeMs);
      changed.set(event.userId, after);
      states.set(event.userId, after);
    }
    const fence = { attribute: fenceAttr, from: fenceFrom, to: run.at(-1)!.offset };
    const retract = run.some((e) => e.event.kind === 'delete');
    const first = steps.length === 0;
    const change: ScoreWrite['change'] =
      !first || stored.landmarkMs === undefined || stored.landmarkMs === landmarkMs
        ? { kind: 'add', delta, landmarkFrom: first ? stored.landmarkMs : landmarkMs }
        : {
            kind: 'set',
            score: rebase(stored.score, stored.landmarkMs, landmarkMs, decay) + delta,
            versionFrom: stored.version,
          };
    steps.push({
      score: { contentId, fence, landmarkMs, retract, change },
      pairs: [...changed].map(([userId, state]) => ({ userId, state })),
    });
    fenceFrom = fence.to;
  }
  return steps;
}

/** A stored user's state of a koo (koo_engagement). */
export function pairStateOf(item: Item): EngagedState {
  const time = item[P.likeTime] as number | undefined;
  return {
    flags: item[P.flags] as number,
    ...(time === undefined ? {} : { likeClock: { time, offset: item[P.likeOffset] as number } }),
    ...(item[P.sharedAt] === undefined ? {} : { sharedAt: item[P.sharedAt] as number }),
    ...(item[P.rekooedAt] === undefined ? {} : { rekooedAt: item[P.rekooedAt] as number }),
    ...(item[P.repliedAt] === undefined ? {} : { repliedAt: item[P.repliedAt] as number }),
  };
}

/** The item of a user's state of a koo; without reactions (a like taken back) it is a tombstone until `expiresAtSeconds`. */
export function pairItemOf(contentId: string, write: PairWrite, expiresAtSeconds: number): Item {
  const { state } = write;
  return {
    [P.contentId]: contentId,
    [P.userId]: write.userId,
    [P.flags]: state.flags,
    ...(state.likeClock
      ? { [P.likeTime]: state.likeClock.time, [P.likeOffset]: state.likeClock.offset }
      : {}),
    ...(state.sharedAt === undefined ? {} : { [P.sharedAt]: state.sharedAt }),
    ...(state.rekooedAt === undefined ? {} : { [P.rekooedAt]: state.rekooedAt }),
    ...(state.repliedAt === undefined ? {} : { [P.repliedAt]: state.repliedAt }),
    // A reply's state never expires: it is what keeps a later read of the reply from counting.
    ...(state.flags === 0 && state.repliedAt === undefined ? { [P.expiresAt]: expiresAtSeconds } : {}),
  };
}

/** Groups a batch's events per koo, keeping offset order. */
export function eventsPerKoo(events: readonly SourcedEvent[]): Map<string, SourcedEvent[]> {
  const byKoo = new Map<string, SourcedEvent[]>();
  for (const e of events) {
    const list = byKoo.get(e.event.contentId);
    if (list) list.push(e);
    else byKoo.set(e.event.contentId, [e]);
  }
  return byKoo;
}
