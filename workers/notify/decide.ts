import type { FollowRow, KooRow } from '../../schemas/cdc.ts';
import type { Reaction } from '../../schemas/reaction.ts';
import type { ChangeEvent } from '../../shared/cdc/debezium.ts';

/**
 * The notify worker's decisions, free of I/O: which events notify whom, which aggregate an
 * event joins, and when that aggregate is due.
 */
export type NotificationKind = 'like' | 'share' | 'rekoo' | 'reply' | 'follow';

export type NotifyEvent =
  | { source: 'reaction'; reaction: Reaction }
  | { source: 'reply'; change: ChangeEvent<KooRow> }
  | { source: 'follow'; change: ChangeEvent<FollowRow> }
  /** A new top-level koo: it notifies nobody, but says who created it (see createdKoos). */
  | { source: 'koo'; change: ChangeEvent<KooRow> };

/**
 * An event with where it came from, as it is held while it waits for its koo: the trace context of
 * its record (W3C headers), and its position (`topic:partition`, offset), which a seal records.
 */
export interface TracedEvent {
  event: NotifyEvent;
  trace?: Record<string, string> | undefined;
  source: string;
  offset: string;
}

/** Adds an actor to an aggregate (`add`) or takes them out before it is delivered (`remove`). */
export interface Intent {
  op: 'add' | 'remove';
  kind: NotificationKind;
  recipient: string;
  /** The koo the notification is about; null for follows. */
  kooId: string | null;
  actor: string;
  eventTimeMs: number;
}

/** The aggregate an intent belongs to: one notification per (kind, recipient, koo, window). */
export interface AggregateRef {
  id: string;
  kind: NotificationKind;
  recipient: string;
  kooId: string | null;
  windowStartMs: number;
  windowEndMs: number;
}

/** The koo whose creator an event notifies: the koo reacted to, the parent replied to; none for the rest. */
export function kooOf(event: NotifyEvent): string | undefined {
  if (event.source === 'reaction') return event.reaction.content_id;
  if (event.source === 'reply') return event.change.after!.parent_id!;
  return undefined;
}

/** The koos a batch needs the creator of: the koos reacted to and the parents replied to. */
export function kooIdsToResolve(events: readonly NotifyEvent[]): string[] {
  return [...new Set(events.flatMap((e) => kooOf(e) ?? []))];
}

/**
 * The koos created in a batch (top-level koos and replies) with their creators: known without a
 * lookup, and what releases the events that came before their koo.
 */
export function createdKoos(events: readonly NotifyEvent[]): { kooId: string; creator: string }[] {
  return events.flatMap((e) =>
    e.source === 'koo' || e.source === 'reply'
      ? [{ kooId: e.change.after!.content_id, creator: e.change.after!.creator_id }]
      : [],
  );
}

/**
 * What an event means for notifications, given the creators of the koos it names. Nothing for
 * oneself, for a koo whose creator is not known, or for an event that notifies nobody.
 */
export function intentOf(event: NotifyEvent, creatorOf: ReadonlyMap<string, string>): Intent | undefined {
  let intent: Intent | undefined;
  if (event.source === 'reaction') {
    const r = event.reaction;
    const recipient = creatorOf.get(r.content_id);
    if (recipient === undefined) return undefined;
    intent = {
      op: r.type === 'unlike' ? 'remove' : 'add',
      kind: r.type === 'unlike' ? 'like' : r.type,
      recipient,
      kooId: r.content_id,
      actor: r.user_id,
      eventTimeMs: r.event_time,
    };
  } else if (event.source === 'reply') {
    const row = event.change.after!;
    const recipient = creatorOf.get(row.parent_id!);
    if (recipient === undefined) return undefined;
    intent = {
      op: 'add',
      kind: 'reply',
      recipient,
      kooId: row.parent_id,
      actor: row.creator_id,
      eventTimeMs: event.change.changedAtMs,
    };
  } else if (event.source === 'koo') {
    return undefined;
  } else {
    // An unfollow before delivery takes the follower out, as an unlike does.
    const row = (event.change.after ?? event.change.before)!;
    intent = {
      op: event.change.op === 'd' ? 'remove' : 'add',
      kind: 'follow',
      recipient: row.followee_id,
      kooId: null,
      actor: row.follower_id,
      eventTimeMs: event.change.changedAtMs,
    };
  }
  return intent.actor === intent.recipient ? undefined : intent;
}

export function windowStart(timeMs: number, windowMs: number): number {
  return timeMs - (timeMs % windowMs);
}

// BullMQ job ids may not contain ':' and the ids of the source tables may; escaping keeps the
// id readable in `koo notify status` and still one-to-one with the aggregate.
const escapeId = (s: string) => encodeURIComponent(s).replace(/\./g, '%2E');

/** The aggregate of the window containing `timeMs`; its id is deterministic, so a replay finds the same one. */
export function aggregateAt(
  intent: Pick<Intent, 'kind' | 'recipient' | 'kooId'>,
  timeMs: number,
  windowMs: number,
): AggregateRef {
  const start = windowStart(timeMs, windowMs);
  return {
    id: ['agg', intent.kind, escapeId(intent.recipient), escapeId(intent.kooId ?? '-'), start].join('.'),
    kind: intent.kind,
    recipient: intent.recipient,
    kooId: intent.kooId,
    windowStartMs: start,
    windowEndMs: start + windowMs,
  };
}

/**
 * The aggregates an intent touches. A removal goes to its own window and the one before: an
 * undone like from further back was delivered already (aggregates fire when their window ends).
 */
export function aggregatesOf(intent: Intent, windowMs: number): AggregateRef[] {
  const own = aggregateAt(intent, intent.eventTimeMs, windowMs);
  if (intent.op === 'add') return [own];
  return [aggregateAt(intent, intent.eventTimeMs - windowMs, windowMs), own];
}

/** The per-recipient rate-limit period a time falls in; overflow goes to the next period's digest. */
export function periodOf(timeMs: number, periodMs: number): number {
  return Math.floor(timeMs / periodMs);
}

export function digestJobId(recipient: string, period: number): string {
  return ['digest', escapeId(recipient), period].join('.');
}
