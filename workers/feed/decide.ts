import { createHash } from 'node:crypto';
import type { FollowRow, KooRow } from '../../schemas/cdc.ts';
import { contentAttr as A, userAttr as U } from '../../schemas/koo-content.ts';
import { feedAttr as F, graphAttr as G, graphKey } from '../../schemas/koo-feed.ts';
import type { ChangeEvent } from '../../shared/cdc/debezium.ts';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';

/**
 * The feed worker's pure logic: what a follows or koos change means for the graph and the feeds.
 * No I/O here; graph-store.ts and feed-store.ts apply it, fan-out.ts pages through followers.
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
 * crash interrupted, `skip` one done or outdated, or `settle` when there is nothing to page
 * through (a delete of a koo never pushed: the record alone fences a replayed create).
 */
export type JobPlan =
  | { action: 'start' }
  | { action: 'resume'; cursor: string | undefined; written: number }
  | { action: 'skip' }
  | { action: 'settle' };

export function planJob(job: KooJob, record: FanOutRecord | undefined): JobPlan {
  if (record && record.version > job.version) return { action: 'skip' };
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

// ---- The graph ----

/** A follows change: the edge follower → followee is now on (insert, snapshot) or off (delete). */
export interface EdgeChange {
  followerId: string;
  followeeId: string;
  active: boolean;
  version: number;
  followedAtMs: number;
}

export function edgeChange(change: ChangeEvent<FollowRow>): EdgeChange {
  const row = (change.op === 'd' ? change.before : change.after)!;
  return {
    followerId: row.follower_id,
    followeeId: row.followee_id,
    active: change.op !== 'd',
    version: change.lsn,
    followedAtMs: row.created_at,
  };
}

export const edgeId = (e: { followerId: string; followeeId: string }) => `${e.followerId}>${e.followeeId}`;

/** The stored state of an edge: version 0 when it was never written. */
export interface EdgeState {
  active: boolean;
  version: number;
}

export function edgeStateOf(item: Item | undefined): EdgeState {
  return item
    ? { active: item[G.active] === 1, version: item[G.version] as number }
    : { active: false, version: 0 };
}

/**
 * How a change applies to the stored edge. `stale`: a newer change is stored, do nothing.
 * `redo`: this very change is stored (a redelivery), redo its feed effects only. `flip`: the edge
 * turns on or off, written together with the count changes. `refresh`: same state, newer LSN.
 */
export type EdgeStep = 'stale' | 'redo' | 'flip' | 'refresh';

export function edgeStep(change: EdgeChange, stored: EdgeState): EdgeStep {
  if (stored.version > change.version) return 'stale';
  if (stored.version === change.version) return 'redo';
  return stored.active === change.active ? 'refresh' : 'flip';
}

export interface EdgeWrite {
  change: EdgeChange;
  /** The version the write is conditioned on (0: the edge must not exist): an optimistic lock. */
  expectedVersion: number;
  flips: boolean;
}

/** Follower and following count changes of a set of edge writes, per user. */
export function countDeltas(
  writes: readonly EdgeWrite[],
): Map<string, { followers: number; following: number }> {
  const deltas = new Map<string, { followers: number; following: number }>();
  const add = (user: string, followers: number, following: number) => {
    const d = deltas.get(user) ?? { followers: 0, following: 0 };
    d.followers += followers;
    d.following += following;
    deltas.set(user, d);
  };
  for (const w of writes) {
    if (!w.flips) continue;
    const sign = w.change.active ? 1 : -1;
    add(w.change.followeeId, sign, 0);
    add(w.change.followerId, 0, sign);
  }
  return deltas;
}

/**
 * Groups edge writes into transactions of at most `maxItems` items: two edge items each, plus
 * one counts item per user whose counts change (merged, as a transaction may not name an item twice).
 */
export function packTransactions(writes: readonly EdgeWrite[], maxItems = 100): EdgeWrite[][] {
  const groups: EdgeWrite[][] = [];
  let group: EdgeWrite[] = [];
  let users = new Set<string>();
  for (const w of writes) {
    const added = w.flips ? [w.change.followerId, w.change.followeeId].filter((u) => !users.has(u)) : [];
    if (group.length > 0 && (group.length + 1) * 2 + users.size + new Set(added).size > maxItems) {
      groups.push(group);
      group = [];
      users = new Set();
    }
    group.push(w);
    if (w.flips) {
      users.add(w.change.followerId);
      users.add(w.change.followeeId);
    }
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * The canonical edge item, in the follower's partition: the fence of the edge, a tombstone once
 * off that expires at `tombstoneExpiresAt` (epoch seconds).
 */
export function followingItem(change: EdgeChange, tombstoneExpiresAt: number): Item {
  return {
    [G.userId]: change.followerId,
    [G.key]: graphKey.following(change.followeeId),
    [G.active]: change.active ? 1 : 0,
    [G.version]: change.version,
    [G.followedAt]: change.followedAtMs,
    ...(change.active ? {} : { [G.expiresAt]: tombstoneExpiresAt }),
  };
}

/** The mirror item in the followee's partition, present only while the edge is on. */
export function followerItem(change: EdgeChange): Item {
  return {
    [G.userId]: change.followeeId,
    [G.key]: graphKey.follower(change.followerId),
    [G.version]: change.version,
    [G.followedAt]: change.followedAtMs,
  };
}
