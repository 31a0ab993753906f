import { createHash } from 'node:crypto';
import type { KooRow } from '../../schemas/cdc.ts';
import { contentAttr as A, userAttr as U } from '../../schemas/koo-content.ts';
import { feedAttr as F } from '../../schemas/koo-feed.ts';
import type { ChangeEvent } from '../../shared/cdc/debezium.ts';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';

/**
 * The feeds' pure logic: what a koos change or a new follow means for home feeds (entries, the
 * author index, fan-out records, trims, backfills). No I/O here; feed-store.ts applies it and
 * fan-out.ts pages through followers. The graph's logic is graph-decide.ts.
 */

export interface FeedSettings {
  /** Feed entries expire this long after the koo's creation; older koos are not fanned out at all. */
  entryTtlSeconds: number;
  /** How long tombstones (unfollows, retracted koos) fence replays. */
  tombstoneTtlSeconds: number;
  /** Authors with more followers than this are pulled at read time instead of pushed. */
  eminentFollowers: number;
  /** Entries a feed keeps (the oldest go first). */
  cap: number;
  /** A follower's feed is trimmed on 1 in this many entries written to it (1: every write; 0: never). */
  trimEvery: number;
}

/** A koo as far as feeds care: who wrote it and when (bodies are read from koo_content). */
export interface KooRef {
  contentId: string;
  authorId: string;
  createdAtMs: number;
}

/** `0001764000000000#<contentId>`: sorts by creation time, unique per koo, the same on every replay. */
export function feedSortKey(createdAtMs: number, contentId: string): string {
  return `${String(createdAtMs).padStart(13, '0')}#${contentId}`;
}

export function feedEntry(userId: string, koo: KooRef, settings: FeedSettings): Item {
  return {
    [F.userId]: userId,
    [F.key]: feedSortKey(koo.createdAtMs, koo.contentId),
    [F.author]: koo.authorId,
    [F.contentId]: koo.contentId,
    [F.expiresAt]: Math.floor(koo.createdAtMs / 1000) + settings.entryTtlSeconds,
  };
}

export function feedEntryKey(userId: string, koo: KooRef): Item {
  return { [F.userId]: userId, [F.key]: feedSortKey(koo.createdAtMs, koo.contentId) };
}

/**
 * The feed worker's own index of an author's top-level koos, in koo_feed beside the feeds and
 * shaped like one: written before a koo's followers are paged, read (strongly consistent) by a
 * new follow's backfill. A follow writes its edge before it reads the index, and a koo writes the
 * index before it reads the edges, so of a follow and a koo at the same moment at least one
 * sees the other, whatever the content worker's lag.
 */
export const authorKoosId = (authorId: string) => `ak#${authorId}`;

/** The author index's change for a koo job: its entry for a push, its removal for a retraction. */
export function authorIndexWrite(job: KooJob, settings: FeedSettings): { put: Item } | { delete: Item } {
  const id = authorKoosId(job.koo.authorId);
  return job.kind === 'push'
    ? { put: feedEntry(id, job.koo, settings) }
    : { delete: feedEntryKey(id, job.koo) };
}

/** The `limit` newest of koos found in several places, each once. */
export function newestKoos(koos: readonly KooRef[], limit: number): KooRef[] {
  const byId = new Map(koos.map((k) => [k.contentId, k]));
  return [...byId.values()]
    .sort((a, b) =>
      feedSortKey(b.createdAtMs, b.contentId).localeCompare(feedSortKey(a.createdAtMs, a.contentId)),
    )
    .slice(0, limit);
}

/** The koos of an author's index entries (newest first), as a follower's entries would hold them. */
export function indexedKoos(entries: readonly Item[], nowMs: number): KooRef[] {
  return entries
    .filter((e) => (e[F.expiresAt] as number) * 1000 > nowMs)
    .map((e) => ({
      contentId: e[F.contentId] as string,
      authorId: e[F.author] as string,
      createdAtMs: Number((e[F.key] as string).split('#')[0]),
    }));
}

/** What a koos change asks of the feeds: push a new top-level koo, retract a deleted one, or nothing. */
export type KooJob = { kind: 'push' | 'retract'; koo: KooRef; version: number };

/**
 * Creates (and snapshot reads) of top-level koos are pushed, deletes retracted. Replies are not
 * fanned out; edits change nothing a feed entry holds (bodies are read at read time); koos older
 * than an entry's lifetime would expire on arrival.
 */
export function kooJob(change: ChangeEvent<KooRow>, nowMs: number, settings: FeedSettings): KooJob | null {
  if (change.op === 'u') return null;
  const row = (change.op === 'd' ? change.before : change.after)!;
  if (row.parent_id !== null) return null;
  const koo = { contentId: row.content_id, authorId: row.creator_id, createdAtMs: row.created_at };
  if (change.op === 'd') return { kind: 'retract', koo, version: change.lsn };
  if (row.created_at + settings.entryTtlSeconds * 1000 <= nowMs) return null;
  return { kind: 'push', koo, version: change.lsn };
}

/**
 * One job per koo of a batch, from its newest change that asks something of the feeds. Edits ask
 * nothing, so they are passed over here rather than kept as "the newest change": a create and an
 * edit of the same koo in one batch (a lagging or redelivered partition) must still fan it out.
 */
export function kooJobs(
  changes: readonly ChangeEvent<KooRow>[],
  nowMs: number,
  settings: FeedSettings,
): KooJob[] {
  const jobs = new Map<string, KooJob>();
  for (const change of changes) {
    const job = kooJob(change, nowMs, settings);
    if (!job) continue;
    jobs.delete(job.koo.contentId); // re-inserted: the order of last appearance
    jobs.set(job.koo.contentId, job);
  }
  return [...jobs.values()];
}

/** A record fences replays of the koo's changes: it lives as long as its entries could, and past the topic's retention. */
export function recordExpiry(job: KooJob, nowMs: number, settings: FeedSettings): number {
  return Math.max(
    Math.floor(job.koo.createdAtMs / 1000) + settings.entryTtlSeconds,
    Math.floor(nowMs / 1000) + settings.tombstoneTtlSeconds,
  );
}

export type FanOutState = 'push' | 'pushed' | 'pulled' | 'retract' | 'retracted';

/** The fan-out record of a koo: the last job run for it, fenced by the LSN of its change. */
export interface FanOutRecord {
  state: FanOutState;
  version: number;
  /** Last follower done, while the job runs: a restart resumes after it. */
  cursor?: string;
  written: number;
}

export function fanOutRecordOf(item: Item): FanOutRecord {
  return {
    state: item[F.state] as FanOutState,
    version: item[F.version] as number,
    ...(typeof item[F.cursor] === 'string' ? { cursor: item[F.cursor] as string } : {}),
    written: (item[F.written] as number | undefined) ?? 0,
  };
}

/** Whether the koo was deleted: its entries are being, or have been, taken out of feeds. */
export function isRetracted(record: FanOutRecord | undefined): boolean {
  return record?.state === 'retract' || record?.state === 'retracted';
}

/**
 * What to do with a job given the koo's record: `start` from the first follower, `resume` a job a
 * crash interrupted, `skip` one done (a push of a koo pushed or pulled already) or outdated, or `settle` when there is nothing to page
 * through (a delete of a koo never pushed: the record alone fences a replayed create).
 */
export type JobPlan =
  | { action: 'start' }
  | { action: 'resume'; cursor: string | undefined; written: number }
  | { action: 'skip' }
  | { action: 'settle' };

export function planJob(job: KooJob, record: FanOutRecord | undefined): JobPlan {
  if (record && record.version > job.version) return { action: 'skip' };
  // A koo is created once: a later push is a snapshot read of its row (a re-snapshot), and the
  // fan-out it would redo is done.
  if (job.kind === 'push' && (record?.state === 'pushed' || record?.state === 'pulled'))
    return { action: 'skip' };
  if (record && record.version === job.version) {
    return record.state === job.kind
      ? { action: 'resume', cursor: record.cursor, written: record.written }
      : { action: 'skip' };
  }
  if (job.kind === 'retract' && (!record || record.state === 'pulled' || record.state === 'retracted')) {
    return { action: 'settle' };
  }
  return { action: 'start' };
}

/** Eminent profiles (marked so, or above the follower threshold) are pulled at read time, not pushed. */
export function isPulledAuthor(user: Item | undefined, followers: number, settings: FeedSettings): boolean {
  return user?.[U.eminent] === true || followers > settings.eminentFollowers;
}

/**
 * How a planned job ends: `run` pages through the followers; otherwise the record alone is
 * written with the state given (a pulled author's koo, a koo nobody follows yet, a delete of a
 * koo never pushed).
 */
export function jobOutcome(
  job: KooJob,
  plan: JobPlan,
  author: Item | undefined,
  followers: number,
  settings: FeedSettings,
): FanOutState | 'run' {
  if (plan.action === 'settle') return 'retracted';
  if (plan.action === 'resume' || job.kind === 'retract') return 'run';
  if (isPulledAuthor(author, followers, settings)) return 'pulled';
  // Nobody to reach: a follower who arrives later gets the koo by backfill.
  return followers === 0 ? 'pushed' : 'run';
}

/**
 * Whether writing this entry also trims the follower's feed. A hash, not a counter: a follower's
 * entry count is not known without reading, and a redelivery must decide the same way.
 */
export function trimsOnWrite(followerId: string, contentId: string, settings: FeedSettings): boolean {
  if (settings.trimEvery === 0) return false;
  if (settings.trimEvery === 1) return true;
  const h = createHash('sha1').update(followerId).update('\u0000').update(contentId).digest();
  return h.readUInt32BE(0) % settings.trimEvery === 0;
}

/** Of a feed's keys, newest first, the ones beyond the cap (deleted oldest first by construction). */
export function keysBeyondCap(keysNewestFirst: readonly string[], cap: number): string[] {
  return keysNewestFirst.slice(cap);
}

/**
 * The koos a new follower gets: the author's newest top-level koos still within an entry's
 * lifetime, from by_creator items (newest first; tombstones are not in that index).
 */
export function backfillKoos(
  byCreatorNewestFirst: readonly Item[],
  limit: number,
  nowMs: number,
  settings: FeedSettings,
): KooRef[] {
  return byCreatorNewestFirst
    .filter((i) => i[A.parent] === undefined && i[A.deleted] === undefined)
    .filter((i) => (i[A.createdAt] as number) + settings.entryTtlSeconds * 1000 > nowMs)
    .slice(0, limit)
    .map((i) => ({
      contentId: i[A.contentId] as string,
      authorId: i[A.creator] as string,
      createdAtMs: i[A.createdAt] as number,
    }));
}
