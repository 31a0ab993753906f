import type { KooRow, UserRow } from '../../schemas/cdc.ts';
import { contentAttr as A, userAttr as U } from '../../schemas/koo-content.ts';
import type { ChangeEvent } from '../../shared/cdc/debezium.ts';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';

/**
 * The content worker's pure logic: from change events and the current state of the rows they
 * join with, what to write. No I/O here; content-store.ts applies it.
 */

export interface ContentSettings {
  mediaBucket: string;
  tombstoneTtlSeconds: number;
  /** A body above this many UTF-8 bytes is stored in S3 and the item points to it. */
  bodyInlineMaxBytes: number;
}

/** Where a koo's bodies are in the body bucket: one object per version, below the koo's prefix. */
export function bodyKeyPrefix(contentId: string): string {
  return `${encodeURIComponent(contentId)}/`;
}

export function bodyKey(contentId: string, version: number): string {
  return `${bodyKeyPrefix(contentId)}${version}`;
}

/** `hi#2026-11-27`: language plus the UTC day, so one busy language is spread over many partitions. */
export function langGroup(lang: string, createdAtMs: number): string {
  return `${lang}#${new Date(createdAtMs).toISOString().slice(0, 10)}`;
}

/**
 * `s3://koo-media/<creator>/nature_valley.jpg` → `nature_valley.jpg` (the seed's shortened
 * S3_LOCATION; the rest is derivable). Any other URI is kept whole, never lost.
 */
export function shortenMedia(
  url: string | null,
  creatorId: string,
  mediaBucket: string,
): { key?: string; uri?: string } {
  if (url === null) return {};
  const prefix = `s3://${mediaBucket}/${creatorId}/`;
  const name = url.startsWith(prefix) ? url.slice(prefix.length) : '';
  return name && !name.includes('/') ? { key: name } : { uri: url };
}

export function mediaUri(item: Item, mediaBucket: string): string | null {
  if (typeof item[A.mediaUri] === 'string') return item[A.mediaUri] as string;
  if (typeof item[A.mediaKey] === 'string')
    return `s3://${mediaBucket}/${item[A.creator] as string}/${item[A.mediaKey] as string}`;
  return null;
}

/** Keeps the last change per key: rows carry full images, so only the newest matters. */
export function latestPerKey<E>(events: readonly E[], keyOf: (e: E) => string): E[] {
  const latest = new Map<string, E>();
  for (const e of events) {
    const key = keyOf(e);
    latest.delete(key); // re-insert so the map keeps the order of last appearance
    latest.set(key, e);
  }
  return [...latest.values()];
}

/**
 * Whether the stored koo knows its thread root: a root (no parent), or a reply whose
 * super-parent was resolved. A missing item or a stub (only pending children) does not.
 */
export function isResolved(item: Item | undefined): boolean {
  if (!item || (item[A.creator] === undefined && item[A.deleted] === undefined)) return false;
  return item[A.parent] === undefined || item[A.superParent] !== undefined;
}

/** The super-parent that replies to this (resolved) koo inherit: its own root, or itself. */
export function rootOf(item: Item): string {
  return (item[A.parent] === undefined ? item[A.contentId] : item[A.superParent]) as string;
}

export interface KooWrite {
  contentId: string;
  version: number;
  /** Attributes to set; null removes. */
  set: Record<string, string | number | null>;
  /** The parent this koo waits on when its super-parent is not known yet. */
  waitsOn: string | null;
  /** A body too large for the item: put in S3 at `key` before the item is written. */
  offloadedBody: { key: string; body: string } | null;
}

/**
 * The item for a created or updated koo. `parent` is the parent's current item (if any), `user`
 * the creator's users item (if known yet: a koo can arrive before its creator's row).
 */
export function kooWrite(
  event: ChangeEvent<KooRow>,
  user: Item | undefined,
  parent: Item | undefined,
  settings: ContentSettings,
): KooWrite {
  const row = event.after!;
  const media = shortenMedia(row.media_url, row.creator_id, settings.mediaBucket);
  const resolvedParent = row.parent_id !== null && isResolved(parent) ? parent! : undefined;
  const knownUser = user && user[U.deleted] === undefined ? user : undefined;
  const offloaded = Buffer.byteLength(row.body, 'utf8') > settings.bodyInlineMaxBytes;
  const key = bodyKey(row.content_id, event.lsn);
  return {
    contentId: row.content_id,
    version: event.lsn,
    set: {
      [A.parent]: row.parent_id,
      // Only set once known: a cascade from the parent may set it concurrently, never unset it.
      ...(resolvedParent ? { [A.superParent]: rootOf(resolvedParent) } : {}),
      ...(row.parent_id === null ? { [A.superParent]: null } : {}),
      [A.creator]: row.creator_id,
      [A.creatorHandle]: knownUser ? (knownUser[U.handle] as string) : null,
      [A.handleVersion]: knownUser ? (knownUser[U.version] as number) : null,
      [A.lang]: row.lang,
      [A.langGroup]: langGroup(row.lang, row.created_at),
      [A.createdAt]: row.created_at,
      [A.updatedAt]: row.updated_at,
      [A.body]: offloaded ? null : row.body,
      [A.bodyKey]: offloaded ? key : null,
      [A.mediaKey]: media.key ?? null,
      [A.mediaUri]: media.uri ?? null,
      [A.version]: event.lsn,
      [A.deleted]: null,
      [A.expiresAt]: null,
    },
    waitsOn: row.parent_id !== null && !resolvedParent ? row.parent_id : null,
    offloadedBody: offloaded ? { key, body: row.body } : null,
  };
}

/**
 * A delete retracts the koo from every view (its GSI keys and content go) but leaves a fenced
 * tombstone with the thread links, so a replayed create cannot resurrect it and late replies
 * still find their root. The parent comes from the deleted row: when the create never reached
 * the table (both in one batch), a reply's tombstone would otherwise pass for a root and its own
 * replies would take it as theirs. The tombstone expires after the topic's retention.
 */
export function kooTombstone(event: ChangeEvent<KooRow>, settings: ContentSettings, nowMs: number): KooWrite {
  const row = event.before!;
  return {
    contentId: row.content_id,
    version: event.lsn,
    set: {
      [A.parent]: row.parent_id,
      [A.creator]: null,
      [A.creatorHandle]: null,
      [A.handleVersion]: null,
      [A.lang]: null,
      [A.langGroup]: null,
      [A.createdAt]: null,
      [A.updatedAt]: null,
      [A.body]: null,
      [A.bodyKey]: null,
      [A.mediaKey]: null,
      [A.mediaUri]: null,
      [A.version]: event.lsn,
      [A.deleted]: 1,
      [A.expiresAt]: Math.floor(nowMs / 1000) + settings.tombstoneTtlSeconds,
    },
    waitsOn: null,
    offloadedBody: null,
  };
}

export interface UserWrite {
  userId: string;
  version: number;
  set: Record<string, string | number | boolean | null>;
  /** Set where the item lacks them: a new user's handle is the one its koos get. */
  setIfAbsent?: Record<string, string>;
}

export function userWrite(event: ChangeEvent<UserRow>, settings: ContentSettings, nowMs: number): UserWrite {
  if (event.op === 'd') {
    const row = event.before!;
    return {
      userId: row.user_id,
      version: event.lsn,
      set: {
        [U.handle]: null,
        [U.displayName]: null,
        [U.eminent]: null,
        [U.createdAt]: null,
        [U.version]: event.lsn,
        [U.deleted]: 1,
        [U.expiresAt]: Math.floor(nowMs / 1000) + settings.tombstoneTtlSeconds,
      },
    };
  }
  const row = event.after!;
  return {
    userId: row.user_id,
    version: event.lsn,
    set: {
      [U.handle]: row.handle,
      [U.displayName]: row.display_name,
      [U.eminent]: row.is_eminent,
      [U.createdAt]: row.created_at,
      [U.version]: event.lsn,
      [U.deleted]: null,
      [U.expiresAt]: null,
    },
    setIfAbsent: { [U.propagatedHandle]: row.handle },
  };
}

/**
 * Whether the creator's koos must be given `handle`, from the user item as it was before the
 * write (null or without a handle: there was none; koos that came before it wait in its pending
 * set instead). The handle is propagated until every koo has it, and only then recorded as `ph`:
 * a propagation cut off (a crash, an eviction) resumes with the next change of the user, whatever
 * it changes.
 */
export function needsPropagation(before: Item | null, handle: string): boolean {
  // Items written before `ph` existed: their stored handle is the one propagated.
  const propagated = before?.[U.propagatedHandle] ?? before?.[U.handle];
  // None: a new user, or the stub its early koos marked; they wait in its pending set.
  return propagated !== undefined && propagated !== handle;
}
