import { topicNames } from '../../schemas/topics.ts';
import { contentAttr as A } from '../../schemas/koo-content.ts';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';
import { contribution, landmarkOf, rebase, type DecaySettings } from './decay.ts';

/**
 * The engagement worker's pure logic: events of one partition batch become at most one score write
 * per koo. A koo's fence for the batch's source partition (the last offset applied from it) drops
 * what was applied before, so a redelivered, replayed or re-owned batch adds nothing twice.
 */

/** `delete`: the koo itself was deleted (moderated): it leaves trending for good and weighs nothing. */
export type EngagementKind = 'like' | 'unlike' | 'share' | 'rekoo' | 'reply' | 'delete';

/** One event that moves a koo's score: a reaction to it, or a reply to it. */
export interface EngagementEvent {
  contentId: string;
  kind: EngagementKind;
  timeMs: number;
}

/** Weight per kind; an unlike takes back a like's weight (as of the unlike). */
export type EngagementWeights = Record<Exclude<EngagementKind, 'unlike' | 'delete'>, number>;

export function weightOf(kind: EngagementKind, weights: EngagementWeights): number {
  if (kind === 'delete') return 0;
  return kind === 'unlike' ? -weights.like : weights[kind];
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

/**
 * Plans the write of one koo's events from one partition (in offset order), or undefined when the
 * fence shows all of them applied. The landmark only moves forward: to the period of the latest event.
 */
export function planScoreWrite(
  contentId: string,
  events: readonly SourcedEvent[],
  stored: StoredScore,
  fenceAttr: string,
  weights: EngagementWeights,
  decay: DecaySettings,
): ScoreWrite | undefined {
  const fresh = stored.fence === undefined ? events : events.filter((e) => e.offset > stored.fence!);
  if (fresh.length === 0) return undefined;
  const latest = Math.max(...fresh.map((e) => e.event.timeMs));
  const landmarkMs = Math.max(stored.landmarkMs ?? -Infinity, landmarkOf(latest, decay));
  let delta = 0;
  for (const { event } of fresh)
    delta += contribution(weightOf(event.kind, weights), event.timeMs, landmarkMs, decay);
  const fence = { attribute: fenceAttr, from: stored.fence, to: fresh[fresh.length - 1]!.offset };
  const planned = { contentId, fence, landmarkMs, retract: fresh.some((e) => e.event.kind === 'delete') };
  if (stored.landmarkMs === undefined || stored.landmarkMs === landmarkMs) {
    return { ...planned, change: { kind: 'add', delta, landmarkFrom: stored.landmarkMs } };
  }
  const score = rebase(stored.score, stored.landmarkMs, landmarkMs, decay) + delta;
  return { ...planned, change: { kind: 'set', score, versionFrom: stored.version } };
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
