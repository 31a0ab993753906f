import type { FollowRow } from '../../schemas/cdc.ts';
import { graphAttr as G, graphKey } from '../../schemas/koo-feed.ts';
import type { ChangeEvent } from '../../shared/cdc/debezium.ts';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';

/**
 * The graph's pure logic: what a follows change does to the edge, its fence and the counts.
 * No I/O here; graph-store.ts applies it. (decide.ts holds the feeds' logic.)
 */

/** A follows change: the edge follower → followee is now on (insert, snapshot) or off (delete). */
export interface EdgeChange {
  followerId: string;
  followeeId: string;
  active: boolean;
  version: number;
  followedAtMs: number;
  /** The follows-topic partition the change came from: the counts item (graphKey.countShard) it adds to. */
  partition: number;
}

export function edgeChange(change: ChangeEvent<FollowRow>, partition: number): EdgeChange {
  const row = (change.op === 'd' ? change.before : change.after)!;
  return {
    followerId: row.follower_id,
    followeeId: row.followee_id,
    active: change.op !== 'd',
    version: change.lsn,
    followedAtMs: row.created_at,
    partition,
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

/** A change of one counts item: a user's share of their counts kept by one follows partition. */
export interface CountDelta {
  userId: string;
  partition: number;
  followers: number;
  following: number;
}

const countItemId = (userId: string, partition: number) => `${partition}:${userId}`;

/** The counts items the flips of an edge write change (none for a write that does not flip). */
function countItemsOf(w: EdgeWrite): string[] {
  if (!w.flips) return [];
  return [
    countItemId(w.change.followerId, w.change.partition),
    countItemId(w.change.followeeId, w.change.partition),
  ];
}

/** Follower and following count changes of a set of edge writes, per counts item. */
export function countDeltas(writes: readonly EdgeWrite[]): CountDelta[] {
  const deltas = new Map<string, CountDelta>();
  const add = (userId: string, partition: number, followers: number, following: number) => {
    const id = countItemId(userId, partition);
    const d = deltas.get(id) ?? { userId, partition, followers: 0, following: 0 };
    d.followers += followers;
    d.following += following;
    deltas.set(id, d);
  };
  for (const w of writes) {
    if (!w.flips) continue;
    const sign = w.change.active ? 1 : -1;
    add(w.change.followeeId, w.change.partition, sign, 0);
    add(w.change.followerId, w.change.partition, 0, sign);
  }
  return [...deltas.values()];
}

/**
 * Groups edge writes into transactions of at most `maxItems` items: two edge items each, plus
 * one counts item per user whose counts change (merged, as a transaction may not name an item
 * twice). Then orders the transactions in rounds: a round's transactions share no counts item
 * and run together; one that shares an item with an earlier one runs in a later round, since
 * DynamoDB cancels a transaction while another on one of its items is in flight (a celebrity's
 * many new followers in one batch are transactions in a row, not a pile of conflicts).
 */
export function packTransactions(writes: readonly EdgeWrite[], maxItems = 100): EdgeWrite[][][] {
  const groups: EdgeWrite[][] = [];
  let group: EdgeWrite[] = [];
  let items = new Set<string>();
  for (const w of writes) {
    const added = countItemsOf(w).filter((i) => !items.has(i));
    if (group.length > 0 && (group.length + 1) * 2 + items.size + new Set(added).size > maxItems) {
      groups.push(group);
      group = [];
      items = new Set();
    }
    group.push(w);
    for (const i of countItemsOf(w)) items.add(i);
  }
  if (group.length > 0) groups.push(group);
  return inRounds(groups);
}

function inRounds(groups: readonly EdgeWrite[][]): EdgeWrite[][][] {
  const rounds: EdgeWrite[][][] = [];
  const lastRoundOf = new Map<string, number>();
  for (const group of groups) {
    const items = group.flatMap(countItemsOf);
    const round = Math.max(-1, ...items.map((i) => lastRoundOf.get(i) ?? -1)) + 1;
    (rounds[round] ??= []).push(group);
    for (const i of items) lastRoundOf.set(i, round);
  }
  return rounds;
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
