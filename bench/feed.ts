import { decaySettingsOf, loadEngagementConfig } from '../workers/engagement/engagement-worker.ts';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { tableName, tables } from '../schemas/tables.ts';
import { topicNames } from '../schemas/topics.ts';
import { contentAttr as A } from '../schemas/koo-content.ts';
import { fanOutRecordId, feedAttr as F } from '../schemas/koo-feed.ts';
import { localCredentials } from '../shared/aws/credentials.ts';
import { batchWrite } from '../shared/dynamodb/batch-writer.ts';
import { Dynamo } from '../shared/dynamodb/dynamo-client.ts';
import { moveGroupToEnd } from '../shared/kafka/consumer-lag.ts';
import { metrics } from '../shared/metrics/metrics.ts';
import { runWorker } from '../shared/runtime/run-worker.ts';
import { Random } from '../apps/synthetic/random.ts';
import { loadFollowers, loadFollowing } from '../apps/synthetic/follower-graph.ts';
import { feedEntry, type FeedSettings } from '../workers/feed/decide.ts';
import { feedSettings, feedWorkerModule, loadFeedConfig } from '../workers/feed/feed-worker.ts';
import { GraphStore } from '../workers/feed/graph-store.ts';
import { bodyStoreFor, type BodyStore } from '../workers/content/body-store.ts';
import { FeedQueries } from '../workers/feed/queries.ts';
import { benchConnections, ddbUsage, until } from './drain.ts';
import { runNaiveFanOut } from './naive-feed.ts';
import { latencyFigures, round, type Figures } from './report.ts';
import { sourceDatabasePool } from '../shared/config/source-database.ts';

/**
 * npm run bench -- feed
 * 1. Fan-out: for authors with 1,000, 10,000 and 100,000 followers (BENCH_FEED_FOLLOWERS), a koo
 *    inserted in PostgreSQL, timed until it is in every follower's feed: by the feed worker, then
 *    by the naive one-PutItem-per-follower consumer. Feed writes/s, DynamoDB requests per entry.
 * 2. Read: a user following 500 authors, 20 of them eminent (pulled), reads the first page of
 *    their feed BENCH_FEED_READS times: p50/p99.
 * Runs on tables of its own (prefix bench_feed_), dropped at the end: moto answers every Query by
 * scanning the whole table, so other data would be measured instead of the feed.
 */
const prefix = 'bench_feed_';
const naivePrefix = 'bench_feed_naive_';
const FANOUT_TRIM_EVERY = process.env.FEED_TRIM_EVERY ?? '0';

async function requestsSoFar(): Promise<number> {
  // The bench polls with GetItem; the fan-outs compared here make none.
  const values = (await metrics.dynamodbRequests.get()).values;
  return values.filter((v) => v.labels.operation !== 'GetItem').reduce((s, v) => s + v.value, 0);
}

export async function benchFeed(): Promise<Figures[]> {
  const sizes = (process.env.BENCH_FEED_FOLLOWERS ?? '1000,10000,100000').split(',').map(Number);
  const reads = Number(process.env.BENCH_FEED_READS ?? 200);
  // The naive fan-out makes one request per follower: on moto, 100,000 of them take half an hour.
  const naiveMax = Number(process.env.BENCH_FEED_NAIVE_MAX ?? Infinity);
  const env = {
    ...process.env,
    LOG_LEVEL: 'error',
    TABLE_PREFIX: prefix,
    FEED_TRIM_EVERY: FANOUT_TRIM_EVERY,
  };
  const config = loadFeedConfig(env);
  const settings = feedSettings(config);
  const { kafka, admin, dynamo } = await benchConnections(config, [prefix, naivePrefix], 'koo-bench-feed');
  const db = sourceDatabasePool();
  const bodies = bodyStoreFor(config);
  const graph = new GraphStore(dynamo, { graph: tableName('graph', prefix) }, config.SINK_CONCURRENCY);
  const rnd = new Random(Number(process.env.BENCH_SEED ?? Date.now()));
  const run = Date.now().toString(36);
  const results: Figures[] = [];
  // Progress on stderr: a long run shows its figures as they come.
  const record = (row: Figures) => {
    results.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  };

  const insertKoo = async (author: string) => {
    const id = rnd.id();
    await db.query(
      'insert into koos (content_id, creator_id, parent_id, lang, body) values ($1, $2, null, $3, $4)',
      [id, author, 'hi', 'bench koo'],
    );
    return { id, insertedAt: performance.now() };
  };

  try {
    // Reads first, while the tables hold only their data (moto's Query time grows with the table).
    for (const row of await benchRead(dynamo, bodies, graph, rnd, reads, settings)) record(row);
    for (const [i, followers] of sizes.entries()) {
      const author = rnd.id();
      await db.query('insert into users (user_id, handle, display_name) values ($1, $2, $3)', [
        author,
        `bench_${author}`,
        'Bench',
      ]);
      await loadFollowers(
        dynamo,
        tableName('graph', prefix),
        author,
        Array.from({ length: followers }, () => rnd.id()),
      );

      // The feed worker.
      const groupId = `bench-feed-${run}-${i}`;
      await moveGroupToEnd(kafka, admin, groupId, [topicNames.follows, topicNames.koos]);
      const worker = await runWorker(feedWorkerModule, {
        ownProcess: false,
        env: { ...env, FEED_GROUP_ID: groupId, FEED_EMINENT_FOLLOWERS: String(10 * followers) },
      });
      let before = await requestsSoFar();
      const koo = await insertKoo(author);
      await until('the fan-out', async () => {
        const out = await dynamo.call('GetItem', (doc) =>
          doc.send(
            new GetCommand({
              TableName: tableName('feed', prefix),
              Key: { [F.userId]: fanOutRecordId(koo.id), [F.key]: '#' },
            }),
          ),
        );
        return out.Item?.[F.state] === 'pushed';
      });
      const seconds = (performance.now() - koo.insertedAt) / 1000;
      let requests = (await requestsSoFar()) - before;
      await worker.close();
      record(fanOutFigures('feed worker', followers, seconds, requests));
      if (followers > naiveMax) continue;

      // The naive baseline, same author, same graph.
      const naiveGroup = `bench-feed-naive-${run}-${i}`;
      await moveGroupToEnd(kafka, admin, naiveGroup, [topicNames.koos]);
      const done = new Map<string, number>();
      const stop = await runNaiveFanOut(
        kafka,
        dynamo,
        graph,
        tableName('feed', naivePrefix),
        naiveGroup,
        settings,
        config.SINK_CONCURRENCY,
        (id) => done.set(id, performance.now()),
      );
      before = await requestsSoFar();
      const naiveKoo = await insertKoo(author);
      await until('the naive fan-out', () => done.has(naiveKoo.id), 3_600_000);
      const naiveSeconds = (done.get(naiveKoo.id)! - naiveKoo.insertedAt) / 1000;
      requests = (await requestsSoFar()) - before;
      await stop();
      record(fanOutFigures('naive (PutItem per follower)', followers, naiveSeconds, requests));
    }
  } finally {
    await admin.disconnect();
    await db.end();
    dynamo.destroy();
    bodies.destroy();
    await dropTables(config, [prefix, naivePrefix]);
  }
  return results;
}

function fanOutFigures(label: string, followers: number, seconds: number, requests: number): Figures {
  return {
    fan_out: label,
    followers,
    insert_to_all_feeds_s: round(seconds, 2),
    feed_writes_per_s: round(followers / seconds, 0),
    ddb_requests_per_entry: round(requests / followers, 4),
  };
}

/**
 * A reader following 500 authors (20 eminent, pulled), their feed full of the others' koos; the
 * pulled-author registry holds BENCH_FEED_REGISTRY (8,000) authors, about 136 KB: read on every
 * feed read (the baseline), then from the read path's cache.
 */
async function benchRead(
  dynamo: Dynamo,
  bodies: BodyStore,
  graph: GraphStore,
  rnd: Random,
  reads: number,
  settings: FeedSettings,
): Promise<Figures[]> {
  const { cap, entryTtlSeconds } = settings;
  const registrySize = Number(process.env.BENCH_FEED_REGISTRY ?? 8000);
  const reader = rnd.id();
  const authors = Array.from({ length: 500 }, () => rnd.id());
  const eminent = authors.slice(0, 20);
  await loadFollowing(dynamo, tableName('graph', prefix), reader, authors);
  await graph.addPulledAuthors(eminent);
  const others = Array.from({ length: Math.max(0, registrySize - eminent.length) }, () => rnd.id());
  for (let i = 0; i < others.length; i += 1000) await graph.addPulledAuthors(others.slice(i, i + 1000));
  const now = Date.now();
  // Two koos per pushed author (the feed keeps the newest `cap`), five per eminent author.
  const koos = [
    ...authors
      .slice(20)
      .flatMap((a, i) => [0, 1].map((k) => ({ author: a, at: now - (i * 2 + k) * 60_000 }))),
    // 30 s apart from the pushed koos' minutes: no two koos share a time, so the newest is one koo.
    ...eminent.flatMap((a, i) =>
      [0, 1, 2, 3, 4].map((k) => ({ author: a, at: now - 30_000 - (i * 5 + k) * 45_000 })),
    ),
  ].map((k) => ({ ...k, id: rnd.id() }));
  await batchWrite(
    dynamo,
    tableName('content', prefix),
    koos.map((k) => ({
      put: {
        [A.contentId]: k.id,
        [A.creator]: k.author,
        [A.creatorHandle]: `h_${k.author}`,
        [A.lang]: 'hi',
        [A.createdAt]: k.at,
        [A.updatedAt]: k.at,
        [A.body]: `koo ${k.id}`,
        [A.version]: 1,
      },
    })),
    { keyAttributes: [A.contentId] },
  );
  const eminentSet = new Set(eminent);
  const pushed = koos
    .filter((k) => !eminentSet.has(k.author))
    .sort((a, b) => b.at - a.at)
    .slice(0, cap);
  await batchWrite(
    dynamo,
    tableName('feed', prefix),
    pushed.map((k) => ({
      put: feedEntry(reader, { contentId: k.id, authorId: k.author, createdAtMs: k.at }, settings),
    })),
    { keyAttributes: [F.userId, F.key] },
  );
  const newest = koos.sort((a, b) => b.at - a.at)[0]!;
  const measure = async (label: string, pulledAuthorsCacheMs: number): Promise<Figures> => {
    const queries = new FeedQueries(dynamo, {
      graphTable: tableName('graph', prefix),
      feedTable: tableName('feed', prefix),
      contentTable: tableName('content', prefix),
      mediaBucket: 'koo-media',
      bodies,
      cap,
      decay: decaySettingsOf(loadEngagementConfig(process.env)),
      entryTtlMs: entryTtlSeconds * 1000,
      pulledAuthorsCacheMs,
    });
    const latencies: number[] = [];
    let pulledShown = 0;
    const before = await ddbUsage();
    for (let i = 0; i < reads; i++) {
      const started = performance.now();
      const page = await queries.feed(reader, 20);
      latencies.push(performance.now() - started);
      if (page.items[0]?.contentId !== newest.id)
        throw new Error('bench: the feed page does not start with the newest koo');
      pulledShown = page.items.filter((k) => k.source === 'pulled').length;
    }
    const after = await ddbUsage();
    return {
      read: `feed page of 20 (500 followees, 20 eminent), ${label}`,
      reads,
      pulled_on_page: pulledShown,
      registry_authors: registrySize,
      ...latencyFigures(latencies),
      ddb_requests_per_read: round((after.requests - before.requests) / reads, 2),
      rcu_per_read: round((after.rcu - before.rcu) / reads, 2),
    };
  };
  return [
    await measure('registry read every time (baseline)', 0),
    await measure('registry cached 10 s', 10_000),
  ];
}

async function dropTables(
  config: { AWS_REGION: string; DYNAMODB_ENDPOINT?: string | undefined },
  prefixes: string[],
) {
  const client = new DynamoDBClient({
    region: config.AWS_REGION,
    endpoint: config.DYNAMODB_ENDPOINT,
    ...localCredentials(config.DYNAMODB_ENDPOINT),
  });
  for (const p of prefixes) {
    for (const def of Object.values(tables)) {
      await client.send(new DeleteTableCommand({ TableName: `${p}${def.name}` })).catch(() => undefined);
    }
  }
  client.destroy();
}
