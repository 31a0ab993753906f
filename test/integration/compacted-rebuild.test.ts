import { ConfigResourceTypes, type Admin, type Kafka, type Producer } from 'kafkajs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill } from '../../apps/ops/backfill.ts';
import { tableName } from '../../schemas/tables.ts';
import { cdcTopicConfig, topicNames } from '../../schemas/topics.ts';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { contentWorkerModule } from '../../workers/content/content-worker.ts';
import { ContentQueries } from '../../workers/content/queries.ts';
import { contentReadPath, sql, testBodyStore } from '../support/content.ts';
import { newId, runId } from '../support/ids.ts';
import { pinGroupAtEnd, readTopicToEnd, testKafka } from '../support/kafka.ts';
import { sourceDb } from '../support/postgres.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWorkerInProcess } from '../support/workers.ts';

// The CDC topics are compacted so that a view can be rebuilt from offset 0 at any age. Here the
// log cleaner really runs on koo.public.koos (its topic settings lowered for the test, then put
// back): every superseded change of the test's koos is gone from the topic, and `koo backfill
// content` from what is left builds tables equal to the live view.

const KOOS = 24;
const koosTopic = topicNames.koos;
const lang = `zc${runId}`;
const tablePrefix = `rebuild${runId}_`;
const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 8, minute)).toISOString();

/** Topic settings that make the cleaner take every closed segment at once. */
const cleanNow = {
  ...cdcTopicConfig,
  'min.compaction.lag.ms': '0',
  'max.compaction.lag.ms': '1000',
  'segment.ms': '1000',
  'min.cleanable.dirty.ratio': '0.01',
  'delete.retention.ms': '1000',
};

const setTopicConfig = (admin: Admin, config: Record<string, string>) =>
  admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: ConfigResourceTypes.TOPIC,
        name: koosTopic,
        configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
      },
    ],
  });

describe('a view rebuilt after the log cleaner ran', () => {
  let db: pg.Pool;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let live: RunningWorker;
  const read = contentReadPath();
  const rebuilt = new ContentQueries(read.dynamo, {
    contentTable: tableName('content', tablePrefix),
    mediaBucket: 'koo-media',
    bodies: testBodyStore(),
  });
  const creator = newId();
  const ids = Array.from({ length: KOOS }, () => newId());
  // Every third koo is deleted; the koos after the first are replies to it, so thread roots rebuild too.
  const deleted = new Set(ids.filter((_, i) => i % 3 === 2));
  const groupId = `test-compacted-${runId}`;
  const rebuildGroupId = `test-compacted-rebuild-${runId}`;

  beforeAll(async () => {
    db = sourceDb();
    kafka = testKafka();
    admin = kafka.admin();
    producer = kafka.producer();
    await Promise.all([admin.connect(), producer.connect()]);
    await pinGroupAtEnd(admin, groupId, [koosTopic, topicNames.users]);
    // The rebuild starts where this test's records begin: what comes before is other tests' keys,
    // and reading it would make the test as slow as the topic is long.
    await pinGroupAtEnd(admin, rebuildGroupId, [koosTopic, topicNames.users]);
    live = await startWorkerInProcess(contentWorkerModule, { CONTENT_GROUP_ID: groupId });
  });

  afterAll(async () => {
    // The settings the stack made the topic with (alterConfigs replaces the whole set).
    await setTopicConfig(admin, cdcTopicConfig).catch(() => undefined);
    await live?.close();
    await Promise.all([admin?.disconnect(), producer?.disconnect(), db?.end()]);
    read.dynamo.destroy();
  });

  it('equals the live view, once every superseded change is gone from the topic', async () => {
    await db.query(sql.insertUser, [creator, `rb_${creator}`, 'Rebuild', false]);
    for (const [i, id] of ids.entries()) {
      await db.query(sql.insertKoo, [id, creator, i === 0 ? null : ids[0], lang, 'v0', null, at(i)]);
    }
    for (const version of ['v1', 'v2', 'v3']) {
      await db.query('update koos set body = $2, updated_at = now() where content_id = any($1)', [
        ids,
        version,
      ]);
    }
    await db.query('delete from koos where content_id = any($1)', [[...deleted]]);
    const view = async (queries: ContentQueries) => Promise.all(ids.map((id) => queries.getKoo(id)));
    await waitFor('the live view to hold the last version of every koo', async () =>
      (await view(read.queries)).every((k, i) => (deleted.has(ids[i]!) ? k === null : k?.body === 'v3')),
    );

    // Each key had a create, three updates and (some) a delete: the cleaner leaves one record a
    // key (a deleted one's tombstone, until delete.retention.ms), once the segments holding them
    // are closed. A record to every partition after segment.ms closes them. The records are
    // counted before the settings change: a read of the whole topic can outlast segment.ms, and
    // the cleaner then ran under it (seen with three files at once).
    const ours = new Set(ids.map((id) => JSON.stringify({ content_id: id })));
    const recordsOfOurKeys = async () => {
      const counts = new Map<string, number>();
      for (const r of await readTopicToEnd(kafka, admin, koosTopic)) {
        if (r.key !== null && ours.has(r.key)) counts.set(r.key, (counts.get(r.key) ?? 0) + 1);
      }
      return counts;
    };
    const before = await recordsOfOurKeys();
    expect(before.size).toBe(KOOS);
    expect([...before.values()].every((n) => n >= 4)).toBe(true);
    await setTopicConfig(admin, cleanNow);
    const partitions = (await admin.fetchTopicOffsets(koosTopic)).map((p) => p.partition);
    await waitFor(
      'the log cleaner to leave one record a key',
      async () => {
        await producer.send({
          topic: koosTopic,
          messages: partitions.map((partition) => ({
            partition,
            key: `roll-${runId}-${partition}`,
            value: null,
          })),
        });
        return [...(await recordsOfOurKeys()).values()].every((n) => n <= 1);
      },
      { timeoutMs: 150_000, intervalMs: 3_000 },
    );

    const result = await backfill(
      { kafka: testKafka(), admin },
      {
        worker: 'content',
        environment: { ...process.env, LOG_LEVEL: 'warn' },
        tablePrefix,
        groupId: rebuildGroupId,
        pollMs: 250,
      },
    );
    expect(result.completed).toBe(true);
    const liveView = await view(read.queries);
    expect(await view(rebuilt)).toEqual(liveView);
    expect(liveView.filter((k) => k !== null)).toHaveLength(KOOS - deleted.size);
    expect(
      liveView.filter((k) => k !== null && k.contentId !== ids[0]).every((k) => k!.parentId === ids[0]),
    ).toBe(true);
    const page = async (queries: ContentQueries) =>
      (await queries.koosByLang(lang, KOOS)).items.map((k) => k.contentId);
    expect(await page(rebuilt)).toEqual(await page(read.queries));
  }, 600_000);
});
