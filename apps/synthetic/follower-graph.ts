import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { graphAttr as G, graphKey } from '../../schemas/koo-feed.ts';
import { followerItem, followingItem, type EdgeChange } from '../../workers/feed/graph-decide.ts';
import { batchWrite } from '../../shared/dynamodb/batch-writer.ts';
import type { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';

/**
 * Bulk-loads a synthetic follow graph straight into koo_graph, with the items the feed worker
 * writes (BatchWriteItem in 25s instead of a transaction per edge): how tests and benchmarks give
 * an author 100,000 followers in seconds. For users that exist only here (counts are set, not added).
 */
export async function loadFollowers(
  dynamo: Dynamo,
  table: string,
  authorId: string,
  followerIds: readonly string[],
) {
  const edges = followerIds.map((followerId) => syntheticEdge(followerId, authorId));
  await batchWrite(
    dynamo,
    table,
    edges.map((e) => ({ put: followerItem(e) })),
    {
      keyAttributes: [G.userId, G.key],
      concurrency: 16,
    },
  );
  await putCounts(dynamo, table, authorId, { followers: followerIds.length });
}

/** Whom a synthetic user follows: the following side of the edges (the read path's side). */
export async function loadFollowing(
  dynamo: Dynamo,
  table: string,
  userId: string,
  followeeIds: readonly string[],
) {
  await batchWrite(
    dynamo,
    table,
    followeeIds.map((followeeId) => ({ put: followingItem(syntheticEdge(userId, followeeId), 0) })),
    { keyAttributes: [G.userId, G.key], concurrency: 16 },
  );
  await putCounts(dynamo, table, userId, { following: followeeIds.length });
}

function syntheticEdge(followerId: string, followeeId: string): EdgeChange {
  return { followerId, followeeId, active: true, version: 1, followedAtMs: Date.now(), partition: 0 };
}

async function putCounts(
  dynamo: Dynamo,
  table: string,
  userId: string,
  counts: { followers?: number; following?: number },
) {
  await dynamo.call('PutItem', (doc) =>
    doc.send(
      new PutCommand({
        TableName: table,
        Item: {
          [G.userId]: userId,
          [G.key]: graphKey.counts,
          [G.followers]: counts.followers ?? 0,
          [G.following]: counts.following ?? 0,
        },
      }),
    ),
  );
}
