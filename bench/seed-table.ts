import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { provisionTables } from '../infra/provision.ts';
import { contentAttr as A, reactionAttr as R } from '../schemas/koo-content.ts';
import { batchWrite } from '../shared/dynamodb/batch-writer.ts';
import { seedKooItems } from './koo-items.ts';
import { tableName } from '../schemas/tables.ts';
import type { KooRow } from '../schemas/cdc.ts';
import type { Reaction } from '../schemas/reaction.ts';
import { commonConfigSchema } from '../shared/config/common.ts';
import { loadConfig } from '../shared/config/load-config.ts';
import { Dynamo } from '../shared/dynamodb/dynamo-client.ts';
import { createLogger } from '../shared/logging/logger.ts';
import { kooWrite } from '../workers/content/decide.ts';
import { ContentStore, contentTables } from '../workers/content/content-store.ts';
import { bodyStoreFor } from '../workers/content/body-store.ts';
import { loadContentConfig } from '../workers/content/content-worker.ts';
import { ContentQueries } from '../workers/content/queries.ts';
import { applyReactions, noReaction } from '../workers/reactions/decide.ts';
import { ReactionQueries } from '../workers/reactions/queries.ts';
import { ReactionStore } from '../workers/reactions/reaction-store.ts';
import { round, percentile, type Figures } from './report.ts';

/**
 * npm run bench -- seed (npm run bench -- reactions prints it too)
 * The seed's DynamoDB benchmark table (koo-dynamodb-case-study.txt: average latency of reaction
 * get and write, content get by id, get by creator and write) measured through this project's own
 * reads (ReactionQueries, ContentQueries) and writes (ContentStore's fenced koo update;
 * ReactionStore's step: a who-reacted item with its koo's counters, one transaction), at BENCH_SEED_CONCURRENCY requests in flight, each operation for at most
 * BENCH_SEED_SECONDS or BENCH_SEED_REQUESTS requests. It runs wherever DYNAMODB_ENDPOINT points (the local stack by
 * default; empty: AWS), in tables of its own (BENCH_SEED_TABLE_PREFIX, created if missing with
 * the app's definitions), so its koos never show up in the app's feeds.
 */

/** The seed's average latencies in ms (DynamoDB on AWS, 40,000 requests/s at the peak). */
const seedAverageMs = {
  'Reaction: Get': 4.42,
  'Reaction: Write': 5.42,
  'Content: Get by ID': 4.26,
  'Content: Get by creator': 6.24,
  'Content: Write': 5.71,
} as const;
type Operation = keyof typeof seedAverageMs;

interface Limits {
  concurrency: number;
  seconds: number;
  requests: number;
}

/** Runs `request(i)` for i = 0, 1, ... with `concurrency` in flight until either limit is reached. */
async function measureOperation(
  operation: Operation,
  limits: Limits,
  request: (i: number) => Promise<unknown>,
): Promise<Figures> {
  const deadline = performance.now() + limits.seconds * 1000;
  const latencies: number[] = [];
  let issued = 0;
  const loop = async () => {
    while (issued < limits.requests && performance.now() < deadline) {
      const i = issued++;
      const started = performance.now();
      await request(i);
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: limits.concurrency }, loop));
  const sorted = latencies.sort((a, b) => a - b);
  return {
    operation,
    concurrency: limits.concurrency,
    requests: sorted.length,
    avg_ms: round(sorted.reduce((s, v) => s + v, 0) / sorted.length),
    p99_ms: round(percentile(sorted, 99)),
    seed_avg_ms: seedAverageMs[operation],
  };
}

/** The same table against DynamoDB on AWS (credentials from the SDK's default chain). */
const onAwsCommand =
  'DYNAMODB_ENDPOINT= AWS_REGION=ap-south-1 BENCH_SEED_TABLE_PREFIX=bench_seed_ npm run bench -- seed' +
  ' (creates on-demand tables bench_seed_* if missing; delete them after)';

/**
 * Tables of each size in BENCH_SEED_TABLE_ITEMS (items in koo_content and in koo_reactions
 * besides what the operations write), under a prefix of their own (`<BENCH_SEED_TABLE_PREFIX><n>_`):
 * the latency of a key lookup, a GSI page and a write should not grow with the table.
 */
export async function benchSeedTable(): Promise<Figures[]> {
  const limits: Limits = {
    concurrency: Number(process.env.BENCH_SEED_CONCURRENCY ?? 8),
    seconds: Number(process.env.BENCH_SEED_SECONDS ?? 3),
    requests: Number(process.env.BENCH_SEED_REQUESTS ?? 2_000),
  };
  const sizes = (process.env.BENCH_SEED_TABLE_ITEMS ?? '10000,1000000').split(',').map(Number);
  const rows: Figures[] = [];
  for (const items of sizes) rows.push(...(await measureAtSize(limits, items)));
  return rows;
}

/** Fills the tables to `items` filler koos and reactions (kept between runs: only what is missing is written). */
async function fillTables(dynamo: Dynamo, prefix: string, items: number): Promise<void> {
  const marker = { [A.contentId]: '__bench_seed_filled__' };
  const content = tableName('content', prefix);
  const read = await dynamo.call('GetItem', (doc) =>
    doc.send(new GetCommand({ TableName: content, Key: marker, ConsistentRead: true })),
  );
  const chunk = 10_000;
  for (let from = (read.Item?.n as number | undefined) ?? 0; from < items; from += chunk) {
    const ids = Array.from({ length: Math.min(chunk, items - from) }, (_, i) => `fill-${from + i}`);
    await seedKooItems(dynamo, ids, prefix);
    await batchWrite(
      dynamo,
      tableName('reactions', prefix),
      ids.map((id, i) => ({
        // Ten users' reactions a koo: item collections like the app's.
        put: { [R.contentId]: `fill-${Math.floor((from + i) / 10)}`, [R.userId]: id, [R.flags]: 1 },
      })),
      { keyAttributes: [R.contentId, R.userId], concurrency: 16 },
    );
    await dynamo.call('PutItem', (doc) =>
      doc.send(new PutCommand({ TableName: content, Item: { ...marker, n: from + ids.length } })),
    );
    console.error(`seed table: ${from + ids.length} of ${items} filler items in ${prefix}*`);
  }
}

async function measureAtSize(limits: Limits, tableItems: number): Promise<Figures[]> {
  const config = {
    ...loadConfig(commonConfigSchema),
    TABLE_PREFIX: `${process.env.BENCH_SEED_TABLE_PREFIX ?? 'bench_seed_'}${tableItems}_`,
  };
  await provisionTables(config, createLogger('bench', 'error'));
  const dynamo = new Dynamo({ region: config.AWS_REGION, endpoint: config.DYNAMODB_ENDPOINT });
  await fillTables(dynamo, config.TABLE_PREFIX, tableItems);
  const tables = {
    ...contentTables(config.TABLE_PREFIX),
    reactions: tableName('reactions', config.TABLE_PREFIX),
  };
  const mediaBucket = 'koo-media';
  const contentStore = new ContentStore(dynamo, tables, limits.concurrency);
  const bodies = bodyStoreFor(config);
  const contentQueries = new ContentQueries(dynamo, { contentTable: tables.content, mediaBucket, bodies });
  const reactionStore = new ReactionStore(dynamo, tables, limits.concurrency);
  const reactionQueries = new ReactionQueries(dynamo, {
    reactionsTable: tables.reactions,
    contentTable: tables.content,
  });

  const run = `seed-bench-${Date.now().toString(36)}`;
  const creators = 50;
  const kooId = (i: number) => `${run}-koo-${i}`;
  const creatorId = (i: number) => `${run}-creator-${i % creators}`;
  const userId = (i: number) => `${run}-user-${i}`;
  const now = Date.now();
  const kooRow = (i: number): KooRow => ({
    content_id: kooId(i),
    creator_id: creatorId(i),
    parent_id: null,
    lang: 'hi',
    body: `seed benchmark koo ${i}`,
    media_url: null,
    created_at: now + i,
    updated_at: now + i,
  });
  const settings = {
    mediaBucket,
    tombstoneTtlSeconds: 86_400,
    bodyInlineMaxBytes: loadContentConfig(process.env).BODY_INLINE_MAX_BYTES,
  };
  const expiresAtSeconds = Math.floor(now / 1000) + 86_400;

  const rows: Figures[] = [];
  const measure = (operation: Operation, request: (i: number) => Promise<unknown>) =>
    measureOperation(operation, limits, request).then((f): Figures => ({ table_items: tableItems, ...f }));
  // Writes first: the reads that follow find what they wrote.
  const koosWritten = await measure('Content: Write', (i) =>
    contentStore.writeKoo(
      kooWrite(
        { op: 'c', before: null, after: kooRow(i), lsn: 1, txId: null, changedAtMs: now, table: 'koos' },
        undefined,
        undefined,
        settings,
      ),
    ),
  );
  rows.push(koosWritten);
  const written = Number(koosWritten.requests);
  rows.push(await measure('Content: Get by ID', (i) => contentQueries.getKoo(kooId(i % written))));
  rows.push(await measure('Content: Get by creator', (i) => contentQueries.koosByCreator(creatorId(i), 20)));
  // Reaction i: a like by user i, as the worker writes it (the item with its koo's counters and
  // fence, one transaction); each of a koo of its own, so that no two writes race for one fence.
  const liker = (i: number) => ({ contentId: `${run}-liked-${i}`, userId: userId(i) });
  const like = (i: number): Reaction => ({
    event_id: `${run}-like-${i}`,
    type: 'like',
    content_id: liker(i).contentId,
    user_id: liker(i).userId,
    event_time: now,
  });
  const reactionsWritten = await measure('Reaction: Write', (i) =>
    reactionStore.applySteps(
      [
        {
          contentId: liker(i).contentId,
          expectedFence: undefined,
          fence: 0,
          delta: { likes: 1, shares: 0, rekoos: 0 },
          items: [
            {
              ...liker(i),
              stored: {
                state: applyReactions(noReaction, [{ reaction: like(i), offset: 0 }]),
                countedFlags: 0,
                offset: 0,
              },
            },
          ],
        },
      ],
      0,
      expiresAtSeconds,
    ),
  );
  rows.push(reactionsWritten);
  const reacted = Number(reactionsWritten.requests);
  rows.push(
    await measure('Reaction: Get', (i) => {
      const { contentId, userId: user } = liker(i % reacted);
      return reactionQueries.reactionOf(contentId, user);
    }),
  );
  dynamo.destroy();
  bodies.destroy();
  // stderr: --json output stays one object per line.
  console.error(
    `seed table: ${limits.concurrency} requests in flight against ${config.DYNAMODB_ENDPOINT ?? `DynamoDB in ${config.AWS_REGION}`}` +
      `, tables of ${tableItems} items; on AWS: ${onAwsCommand}`,
  );
  return rows;
}
