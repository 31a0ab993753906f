import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { graphAttr as G, graphKey } from '../../schemas/koo-feed.ts';
import { batchGet, keyString, type Item } from '../../shared/dynamodb/batch-writer.ts';
import { query, queryPages } from '../../shared/dynamodb/query.ts';
import { transactWrite } from '../../shared/dynamodb/transact.ts';
import { buildUpdate } from '../../shared/dynamodb/update-expression.ts';
import { mapConcurrent } from '../../shared/runtime/backoff.ts';
import { type FeedSettings } from './decide.ts';
import {
  countDeltas,
  edgeId,
  edgeStateOf,
  followerItem,
  followingItem,
  packTransactions,
  type EdgeChange,
  type EdgeState,
  type EdgeWrite,
} from './graph-decide.ts';
import { DynamoStore } from '../../shared/dynamodb/dynamo-store.ts';
import { projectionOf } from '../../shared/dynamodb/update-expression.ts';

export interface GraphTables {
  graph: string;
}

export interface FollowerPage {
  followerIds: string[];
  /** Sort key of the last follower read: the next page starts after it; absent on the last page. */
  next?: string;
}

/**
 * The social graph in koo_graph: per-edge items fenced by LSN, exact counts. An edge's flip and
 * its count changes are one transaction conditioned on the edge version read before, so a replay
 * (older LSN), a redelivery (same LSN) or a second owner of the partition never counts twice.
 */
export class GraphStore extends DynamoStore<GraphTables> {
  /** Stored states of these edges, keyed by edgeId; strongly consistent. */
  async getEdges(edges: readonly EdgeChange[]): Promise<Map<string, EdgeState>> {
    const items = await batchGet(
      this.dynamo,
      this.tables.graph,
      edges.map((e) => ({ [G.userId]: e.followerId, [G.key]: graphKey.following(e.followeeId) })),
      { keyAttributes: [G.userId, G.key], concurrency: this.concurrency },
    );
    const key = (e: EdgeChange) =>
      keyString({ [G.userId]: e.followerId, [G.key]: graphKey.following(e.followeeId) }, [G.userId, G.key]);
    return new Map(edges.map((e) => [edgeId(e), edgeStateOf(items.get(key(e)))]));
  }

  /**
   * Writes edges and their count changes, a transaction per group, round after round (see
   * packTransactions); a moved version is a retriable error.
   */
  async applyEdges(writes: readonly EdgeWrite[], nowMs: number, settings: FeedSettings): Promise<void> {
    const tombstoneExpiresAt = Math.floor(nowMs / 1000) + settings.tombstoneTtlSeconds;
    for (const round of packTransactions(writes))
      await mapConcurrent(round, this.concurrency, async (group) => {
        const edges = group.flatMap((w) => [
          {
            Put: {
              TableName: this.tables.graph,
              Item: followingItem(w.change, tombstoneExpiresAt),
              ConditionExpression: w.expectedVersion === 0 ? 'attribute_not_exists(#v)' : '#v = :v',
              ExpressionAttributeNames: { '#v': G.version },
              ...(w.expectedVersion === 0 ? {} : { ExpressionAttributeValues: { ':v': w.expectedVersion } }),
            },
          },
          w.change.active
            ? { Put: { TableName: this.tables.graph, Item: followerItem(w.change) } }
            : {
                Delete: {
                  TableName: this.tables.graph,
                  Key: { [G.userId]: w.change.followeeId, [G.key]: graphKey.follower(w.change.followerId) },
                },
              },
        ]);
        const counts = countDeltas(group).map((d) => ({
          Update: {
            TableName: this.tables.graph,
            Key: { [G.userId]: d.userId, [G.key]: graphKey.countShard(d.partition) },
            ...buildUpdate({ add: { [G.followers]: d.followers, [G.following]: d.following } }),
          },
        }));
        await transactWrite(this.dynamo, [...edges, ...counts], 'graph edges');
      });
  }

  /** Whether DynamoDB answers (readiness), by recent answers or one probe of this table. */
  reachable(): Promise<boolean> {
    return this.dynamo.reachable(this.tables.graph, { [G.userId]: '__readyz__', [G.key]: graphKey.counts });
  }

  /** Follower counts of these users (0 for a user without followers); strongly consistent. */
  async followerCounts(userIds: readonly string[]): Promise<Map<string, number>> {
    const counts = await mapConcurrent(
      userIds,
      this.concurrency,
      async (id) => [id, await this.counts(id)] as const,
    );
    return new Map(counts.map(([id, c]) => [id, c.followers]));
  }

  /** A user's counts: the sum of their counts items (graphKey.countShard), one Query. */
  async counts(userId: string): Promise<{ followers: number; following: number }> {
    const sum = { followers: 0, following: 0 };
    for await (const items of queryPages(this.dynamo, {
      TableName: this.tables.graph,
      KeyConditionExpression: '#id = :id AND begins_with(#k, :counts)',
      ExpressionAttributeNames: { '#id': G.userId, '#k': G.key },
      ExpressionAttributeValues: { ':id': userId, ':counts': graphKey.countsPrefix },
      ConsistentRead: true,
    }))
      for (const item of items) {
        sum.followers += (item[G.followers] as number | undefined) ?? 0;
        sum.following += (item[G.following] as number | undefined) ?? 0;
      }
    return sum;
  }

  /** One page of a user's followers, in key order, starting after `after` (a sort key). */
  async followers(userId: string, limit: number, after?: string): Promise<FollowerPage> {
    // Strongly consistent: a follow written before this page is read is on it (see authorKoosId).
    const page = await this.edgePage(userId, graphKey.followerPrefix, limit, after, [G.key], true);
    return {
      followerIds: page.items.map((i) => (i[G.key] as string).slice(graphKey.followerPrefix.length)),
      ...(page.next ? { next: page.next } : {}),
    };
  }

  /** One page of whom a user follows (unfollow tombstones left out), with when each was followed. */
  async following(
    userId: string,
    limit: number,
    after?: string,
  ): Promise<{ followees: { userId: string; followedAtMs: number }[]; next?: string }> {
    const page = await this.edgePage(userId, graphKey.followingPrefix, limit, after, [
      G.key,
      G.active,
      G.followedAt,
    ]);
    return {
      followees: page.items
        .filter((i) => i[G.active] === 1)
        .map((i) => ({
          userId: (i[G.key] as string).slice(graphKey.followingPrefix.length),
          followedAtMs: i[G.followedAt] as number,
        })),
      ...(page.next ? { next: page.next } : {}),
    };
  }

  /** Every user a user follows (the read path needs them all to find eminent followees). */
  async allFollowing(userId: string): Promise<string[]> {
    const ids: string[] = [];
    let after: string | undefined;
    do {
      const page = await this.following(userId, 1000, after);
      ids.push(...page.followees.map((f) => f.userId));
      after = page.next;
    } while (after);
    return ids;
  }

  private async edgePage(
    userId: string,
    prefix: string,
    limit: number,
    after: string | undefined,
    attributes: readonly string[],
    consistent = false,
  ): Promise<{ items: Item[]; next?: string }> {
    const projection = projectionOf(attributes);
    const out = await query(this.dynamo, {
      TableName: this.tables.graph,
      KeyConditionExpression: '#id = :id AND begins_with(#k, :prefix)',
      ProjectionExpression: projection.ProjectionExpression,
      ExpressionAttributeNames: { '#id': G.userId, '#k': G.key, ...projection.ExpressionAttributeNames },
      ExpressionAttributeValues: { ':id': userId, ':prefix': prefix },
      Limit: limit,
      ConsistentRead: consistent,
      ...(after ? { ExclusiveStartKey: { [G.userId]: userId, [G.key]: after } } : {}),
    });
    const items = out.Items ?? [];
    return { items, ...(out.LastEvaluatedKey ? { next: out.LastEvaluatedKey[G.key] as string } : {}) };
  }

  /** Authors whose koos readers pull (eminent profiles): one item, read by every feed read. */
  async pulledAuthors(): Promise<Set<string>> {
    const out = await this.dynamo.call('GetItem', (doc) =>
      doc.send(
        new GetCommand({
          TableName: this.tables.graph,
          Key: { [G.userId]: graphKey.pulledAuthors, [G.key]: graphKey.counts },
        }),
      ),
    );
    return (out.Item?.[G.members] as Set<string> | undefined) ?? new Set();
  }

  /** Adds authors to the pulled registry (a set: adding twice changes nothing). */
  async addPulledAuthors(userIds: readonly string[]): Promise<void> {
    await this.dynamo.call('UpdateItem', (doc) =>
      doc.send(
        new UpdateCommand({
          TableName: this.tables.graph,
          Key: { [G.userId]: graphKey.pulledAuthors, [G.key]: graphKey.counts },
          ...buildUpdate({ add: { [G.members]: new Set(userIds) } }),
        }),
      ),
    );
  }
}
