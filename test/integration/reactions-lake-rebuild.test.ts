import { Partitioners, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill } from '../../apps/ops/backfill.ts';
import type { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { listLakeObjects } from '../../workers/lake/lake-listing.ts';
import { lakeWorkerModule } from '../../workers/lake/lake-worker.ts';
import { ReactionQueries } from '../../workers/reactions/queries.ts';
import { reactionsWorkerModule } from '../../workers/reactions/reactions-worker.ts';
import { newId, runId } from '../support/ids.ts';
import { groupCaughtUp, pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { testLakeStore } from '../support/lake.ts';
import { testReactionProducer } from '../support/reactions.ts';
import { testDynamo } from '../support/stack-env.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWorkerInProcess } from '../support/workers.ts';

// koo.reactions keeps 30 days; the lake keeps every reaction. Here the topic's old records are
// really gone (DeleteRecords moves each partition's log start past them) after the lake worker
// wrote them, and `koo backfill reactions --from-lake` replays the lake, then goes on from Kafka
// after the lake's last offsets: the rebuilt counters and reactions equal the live ones, also for
// an unlike in the topic of a like only the lake still holds.

const topic = topicNames.reactions;
const lakePrefix = `test-lake-rebuild-${runId}/`;
const tablePrefix = `lakerebuild${runId}_`;

/** Koo ids, one keyed to each partition by the producers' partitioner (murmur2, as the Java client). */
function koosInEveryPartition(partitions: number): string[] {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  const found = new Map<number, string>();
  while (found.size < partitions) {
    const id = `k${newId()}`;
    found.set(partitioner({ topic, partitionMetadata, message: { key: id, value: null } }), id);
  }
  return [...found.values()];
}

describe('reactions rebuilt from the lake after the topic lost its old records', () => {
  let admin: Admin;
  let producer: ReactionProducer;
  const workers: RunningWorker[] = [];
  const store = testLakeStore();
  const dynamo = testDynamo();
  const queriesOf = (prefix: string) =>
    new ReactionQueries(dynamo, {
      reactionsTable: tableName('reactions', prefix),
      contentTable: tableName('content', prefix),
    });
  const live = queriesOf('');
  const rebuilt = queriesOf(tablePrefix);
  let koos: string[];
  const users = Array.from({ length: 6 }, () => `u${newId()}`);
  const lakeEnv = { LAKE_PREFIX: lakePrefix, LAKE_CATALOG_NAME: lakePrefix };
  const liveGroup = `test-lake-rebuild-live-${runId}`;

  beforeAll(async () => {
    admin = testKafka().admin();
    await admin.connect();
    // A koo in every partition: each partition's old records are then in the lake, and a
    // rebuild refuses a partition whose lost records the lake does not hold.
    koos = koosInEveryPartition((await admin.fetchTopicOffsets(topic)).length);
    producer = await testReactionProducer();
    const lakeGroup = `test-lake-rebuild-lake-${runId}`;
    await pinGroupAtEnd(admin, liveGroup, [topic]);
    await pinGroupAtEnd(admin, lakeGroup, [topic]);
    workers.push(await startWorkerInProcess(reactionsWorkerModule, { REACTIONS_GROUP_ID: liveGroup }));
    workers.push(
      await startWorkerInProcess(lakeWorkerModule, {
        ...lakeEnv,
        LAKE_GROUP_ID: lakeGroup,
        LAKE_TOPICS: topic,
        LAKE_ROTATE_ROWS: '10',
        LAKE_ROTATE_AGE_MS: '1000',
      }),
    );
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await producer?.close();
    await admin?.disconnect();
    store.destroy();
    dynamo.destroy();
  });

  const view = (queries: ReactionQueries) =>
    Promise.all(
      koos.map(async (k) => ({
        counts: await queries.counts(k),
        reactions: await Promise.all(users.map((u) => queries.reactionOf(k, u))),
      })),
    );

  it('equals the live counters and reactions', async () => {
    const now = Date.now();
    const emit = (type: 'like' | 'unlike' | 'share' | 'rekoo', k: number, u: number, t: number) =>
      producer.emit({ type, content_id: koos[k]!, user_id: users[u]!, event_time: now + t });
    // Before the records are deleted: every user likes every koo, some share and rekoo.
    for (let k = 0; k < koos.length; k++) {
      for (let u = 0; u < users.length; u++) await emit('like', k, u, u);
      await emit('share', k, k % users.length, 10);
      await emit('rekoo', k, (k + 1) % users.length, 11);
    }
    const ends = await admin.fetchTopicOffsets(topic);
    await waitFor(
      'the lake to hold every record of the topic so far',
      async () => {
        const objects = await listLakeObjects(store, lakePrefix, `${lakePrefix}${topic}/`);
        return ends.every((p) =>
          objects.some((o) => o.partition === p.partition && (o.lastOffset ?? -1n) >= BigInt(p.high) - 1n),
        );
      },
      { timeoutMs: 60_000 },
    );
    // The live worker has counted them too: records it had not read yet would be gone for it.
    await waitFor('the live worker to have read the topic so far', () =>
      groupCaughtUp(admin, liveGroup, [topic]),
    );
    await admin.deleteTopicRecords({
      topic,
      partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
    });
    // After: in the topic only. Unlikes of likes the lake alone holds.
    for (let k = 0; k < koos.length; k += 2) await emit('unlike', k, 0, 20);
    const expectedLikes = (k: number) => users.length - (k % 2 === 0 ? 1 : 0);
    await waitFor('the live view to count every reaction', async () =>
      (await view(live)).every((v, k) => v.counts.likes === expectedLikes(k) && v.counts.rekoos === 1),
    );

    const result = await backfill(
      { kafka: testKafka(), admin },
      {
        worker: 'reactions',
        environment: { ...process.env, ...lakeEnv, LOG_LEVEL: 'warn' },
        tablePrefix,
        fromLake: true,
        groupId: `test-lake-rebuild-${runId}`,
        pollMs: 250,
      },
    );
    expect(result.completed).toBe(true);
    const liveView = await view(live);
    expect(await view(rebuilt)).toEqual(liveView);
    expect(liveView.map((v) => v.counts.likes)).toEqual(koos.map((_, k) => expectedLikes(k)));
  });

  it('is refused when the topic lost records the lake does not hold', async () => {
    await expect(
      backfill(
        { kafka: testKafka(), admin },
        {
          worker: 'reactions',
          environment: {
            ...process.env,
            LAKE_PREFIX: `test-lake-rebuild-empty-${runId}/`,
            LAKE_CATALOG_NAME: `test-lake-rebuild-empty-${runId}/`,
            LOG_LEVEL: 'warn',
          },
          tablePrefix,
          fromLake: true,
          groupId: `test-lake-rebuild-refused-${runId}`,
        },
      ),
    ).rejects.toThrow(/lost records the lake does not hold \(partition 0: offsets 0 to \d+/);
  });
});
