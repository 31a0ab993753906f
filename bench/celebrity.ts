import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { followRowSchema } from '../schemas/cdc.ts';
import { graphAttr as G, graphKey } from '../schemas/koo-feed.ts';
import { decodeChangeEvent } from '../shared/cdc/debezium.ts';
import { tableName } from '../schemas/tables.ts';
import { topicNames } from '../schemas/topics.ts';
import { sourceDatabasePool } from '../shared/config/source-database.ts';
import { Dynamo } from '../shared/dynamodb/dynamo-client.ts';
import { moveGroupToEnd } from '../shared/kafka/consumer-lag.ts';
import { runWorker } from '../shared/runtime/run-worker.ts';
import { feedTopics, feedWorkerModule, loadFeedConfig } from '../workers/feed/feed-worker.ts';
import { GraphStore } from '../workers/feed/graph-store.ts';
import { startConflictProxy, type ConflictProxy } from '../test/support/dynamodb-conflicts.ts';
import { benchConnections, ddbUsage, ddbPerEvent, until } from './drain.ts';
import { runPerRecordConsumer } from './naive-consumer.ts';
import { round, type Figures } from './report.ts';

/**
 * npm run bench -- celebrity
 * A celebrity gains BENCH_CELEBRITY_FOLLOWS followers at once (one PostgreSQL statement, streamed
 * by Debezium across the follows topic's partitions), and BENCH_CELEBRITY_MEMBERS feed workers of
 * one group drain them. DynamoDB is reached through a proxy that cancels a transaction while
 * another on one of its items is in flight, as DynamoDB does (TransactionConflict), and counts the
 * writes of each item: the hottest item's writes/s are what one DynamoDB partition must take
 * (1,000 WCU/s; a transactional write costs 2). The naive baseline adds 1 to one counts item per
 * follow. The celebrity's follower count is checked against the follows written.
 */
const prefix = 'bench_celebrity_';

export async function benchCelebrity(): Promise<Figures[]> {
  const follows = Number(process.env.BENCH_CELEBRITY_FOLLOWS ?? 6000);
  const members = Number(process.env.BENCH_CELEBRITY_MEMBERS ?? 2);
  const base = loadFeedConfig({ ...process.env, TABLE_PREFIX: prefix });
  const { kafka, admin, dynamo } = await benchConnections(base, [prefix], 'koo-bench-celebrity');
  const db = sourceDatabasePool();
  const run = Date.now().toString(36);
  const results: Figures[] = [];

  const measure = async (
    label: string,
    celebrity: string,
    start: (
      proxy: ConflictProxy,
      groupId: string,
      onDone: (n: number) => void,
    ) => Promise<() => Promise<void>>,
  ) => {
    const proxy = await startConflictProxy(base.DYNAMODB_ENDPOINT!);
    const groupId = `bench-celebrity-${label.split(' ')[0]}-${run}`;
    await moveGroupToEnd(kafka, admin, groupId, feedTopics);
    const end = async () =>
      (await admin.fetchTopicOffsets(topicNames.follows)).reduce((s, p) => s + Number(p.high), 0);
    const before = await end();
    await db.query(
      `insert into follows (follower_id, followee_id)
       select $1 || g, $2 from generate_series(1, $3::int) g`,
      [`${celebrity}-f`, celebrity, follows],
    );
    await until('Debezium to publish the follows', async () => (await end()) - before >= follows);
    let done = 0;
    let last = 0;
    const usage = await ddbUsage();
    const started = performance.now();
    const stop = await start(proxy, groupId, (n) => {
      done += n;
      last = performance.now();
    });
    await until(`${label} to drain the follows`, () => done >= follows);
    await stop();
    await proxy.close();
    const seconds = (last - started) / 1000;
    const hottest = Math.max(...proxy.writesPerItem.values());
    return {
      consumer: label,
      follows,
      events_per_s: round(follows / seconds, 1),
      transactions: proxy.transactions,
      transaction_conflicts: proxy.conflicts,
      hottest_item_writes: hottest,
      hottest_item_writes_per_s: round(hottest / seconds, 1),
      ...(await ddbPerEvent(usage, follows)),
    };
  };

  const graph = new GraphStore(dynamo, { graph: tableName('graph', prefix) }, 8);
  const celebrity = `celebrity-${run}`;
  const worker = await measure(
    `feed worker (${members} members)`,
    celebrity,
    async (proxy, groupId, onDone) => {
      const env = {
        ...process.env,
        LOG_LEVEL: 'error',
        TABLE_PREFIX: prefix,
        DYNAMODB_ENDPOINT: proxy.endpoint,
        FEED_GROUP_ID: groupId,
      };
      const running = await Promise.all(
        Array.from({ length: members }, () =>
          runWorker(feedWorkerModule, {
            ownProcess: false,
            env,
            onCommitted: (records) => onDone(records.filter((r) => r.topic === topicNames.follows).length),
          }),
        ),
      );
      return async () => {
        await Promise.all(running.map((w) => w.close()));
      };
    },
  );
  const counted = (await graph.counts(celebrity)).followers;
  results.push({ ...worker, follower_count_exact: counted === follows ? 'yes' : `no (${counted})` });

  const naive = await measure(
    'naive (one UpdateItem per follow)',
    `naive-${celebrity}`,
    async (proxy, groupId, onDone) => {
      const proxied = new Dynamo({ region: base.AWS_REGION, endpoint: proxy.endpoint });
      const stop = await runPerRecordConsumer(kafka, groupId, [topicNames.follows], async (raw) => {
        const followee = decodeChangeEvent(raw, followRowSchema)?.after?.followee_id;
        if (followee)
          await proxied.call('UpdateItem', (doc) =>
            doc.send(
              new UpdateCommand({
                TableName: tableName('graph', prefix),
                Key: { [G.userId]: followee, [G.key]: graphKey.counts },
                UpdateExpression: 'ADD #f :one',
                ExpressionAttributeNames: { '#f': G.followers },
                ExpressionAttributeValues: { ':one': 1 },
              }),
            ),
          );
        onDone(1);
      });
      return async () => {
        await stop();
        proxied.destroy();
      };
    },
  );
  results.push(naive);

  await admin.disconnect();
  await db.end();
  dynamo.destroy();
  return results;
}
