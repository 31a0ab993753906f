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
