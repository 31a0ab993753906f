import type { NotificationKind } from './decide.ts';

/** Who acted, as the notification names them: the handle when known, else the user id. */
export interface Actor {
  id: string;
  handle?: string;
}

/** What the transport delivers: one aggregate, or a digest of those over the recipient's rate limit. */
export interface Notification {
  /** The job id: the idempotency key the receiver deduplicates by. */
  id: string;
  recipient: string;
  kind: NotificationKind | 'digest';
  kooId: string | null;
  /** The first actors, in the order they acted. */
  actors: Actor[];
  /** Everyone in the aggregate (for a digest: the notifications it merges). */
  count: number;
  text: string;
  /** A digest's notifications, in a fixed order. */
  items?: Notification[];
}

const verbs: Record<NotificationKind, string> = {
  like: 'liked your koo',
  share: 'shared your koo',
  rekoo: 'rekooed your koo',
  reply: 'replied to your koo',
  follow: 'followed you',
};

const nameOf = (a: Actor) => a.handle ?? a.id;

/** "Asha liked your koo", "Asha and Ravi …", "Asha and 212 others …": the first actor named, then the rest counted. */
export function headline(kind: NotificationKind, actors: readonly Actor[], count: number): string {
  const first = actors[0];
  if (!first || count < 1) throw new RangeError('a notification names at least one actor');
  const others = count - 1;
  const who =
    others === 0
      ? nameOf(first)
      : others === 1 && actors[1]
        ? `${nameOf(first)} and ${nameOf(actors[1])}`
        : `${nameOf(first)} and ${others} ${others === 1 ? 'other' : 'others'}`;
  return `${who} ${verbs[kind]}`;
}

export function aggregateNotification(
  id: string,
  ref: { kind: NotificationKind; recipient: string; kooId: string | null },
  actors: readonly Actor[],
  count: number,
): Notification {
  return {
    id,
    recipient: ref.recipient,
    kind: ref.kind,
    kooId: ref.kooId,
    actors: [...actors],
    count,
    text: headline(ref.kind, actors, count),
  };
}

/** Merges the notifications held back by the rate limit into one; sorted by id so every attempt builds the same digest. */
export function digestNotification(
  id: string,
  recipient: string,
  held: readonly Notification[],
): Notification {
  const items = [...held].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const more = items.length - 1;
  const text =
    more === 0
      ? items[0]!.text
      : `${items[0]!.text}, and ${more} more ${more === 1 ? 'notification' : 'notifications'}`;
  return { id, recipient, kind: 'digest', kooId: null, actors: [], count: items.length, text, items };
}
