import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphAttr as G } from '../../schemas/koo-feed.ts';
import { topicNames } from '../../schemas/topics.ts';
import { query } from '../../shared/dynamodb/query.ts';
import { tableName } from '../../schemas/tables.ts';
import { createFeedWorker, loadFeedConfig, type FeedWorker } from '../../workers/feed/feed-worker.ts';
import { envelope, rawRecord } from '../support/cdc-events.ts';
import { startConflictProxy, type ConflictProxy } from '../support/dynamodb-conflicts.ts';
import { feedReadPath } from '../support/feed.ts';
import { newId } from '../support/ids.ts';
import { handlerContext } from '../support/workers.ts';

const ctx = handlerContext();

/**
 * A celebrity followed from every partition at once (issue 17: a hot key inside transactions).
 * Two feed worker members handle their partitions' follows of one user at the same time, through
 * a proxy that cancels a transaction while another on one of its items is in flight, as DynamoDB
 * does (the local server runs transactions one at a time and never conflicts).
 */
describe('feed worker: a celebrity followed from every partition at once', () => {
  const read = feedReadPath(loadFeedConfig(process.env).FEED_CAP);
  let proxy: ConflictProxy;
  let members: FeedWorker[];
  let lsn = 1;

  beforeAll(async () => {
    proxy = await startConflictProxy(loadFeedConfig(process.env).DYNAMODB_ENDPOINT!);
    const config = loadFeedConfig({
      ...process.env,
      DYNAMODB_ENDPOINT: proxy.endpoint,
      FEED_BACKFILL_KOOS: '0',
    });
    members = [createFeedWorker(config), createFeedWorker(config)];
  });
  afterAll(async () => {
    await proxy?.close();
  });

  const follows = (w: FeedWorker, partition: number, followee: string, count: number) =>
    Array.from({ length: count }, () => {
      const row = { follower_id: newId(), followee_id: followee, created_at: new Date().toISOString() };
      const raw = { ...rawRecord(topicNames.follows, envelope('follows', 'c', null, row, lsn++)), partition };
      return { raw, value: w.decode(raw)! };
    });

  it('counts every follower once, with no transaction cancelled for a conflict, also when replayed', async () => {
    const celebrity = newId();
    const batches = members.map((w, i) => follows(w, i, celebrity, 150));
    await Promise.all(members.map((w, i) => w.handle(batches[i]!, ctx)));
    expect(proxy.conflicts).toBe(0);
    expect(await read.graph.counts(celebrity)).toEqual({ followers: 300, following: 0 });
    // Each partition's member kept its own share of the count.
    const shares = await query(read.dynamo, {
      TableName: tableName('graph'),
      KeyConditionExpression: '#id = :id AND begins_with(#k, :c)',
      ExpressionAttributeNames: { '#id': G.userId, '#k': G.key },
      ExpressionAttributeValues: { ':id': celebrity, ':c': '#' },
      ConsistentRead: true,
    });
    expect(shares.Items?.map((i) => [i[G.key], i[G.followers]])).toEqual([
      ['#0', 150],
      ['#1', 150],
    ]);

    // A replay by the other member (a rebalance moved the partitions) counts nothing again.
    await Promise.all(members.map((w, i) => w.handle(batches[1 - i]!, ctx)));
    expect(await read.graph.counts(celebrity)).toEqual({ followers: 300, following: 0 });
    expect(proxy.conflicts).toBe(0);
  });
});
