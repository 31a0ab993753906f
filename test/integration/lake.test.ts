import type { Admin, Producer, RecordMetadata } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import { dlqHeaders } from '../../shared/kafka/dlq.ts';
import { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { lakeWorkerModule } from '../../workers/lake/lake-worker.ts';
import { envelope, kooRow, userRow } from '../support/cdc-events.ts';
import { newId, runId } from '../support/ids.ts';
import { pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import {
  createTestTopics,
  deleteTestTopics,
  lakeSnapshot,
  privateCdcTopic,
  testLakeStore,
} from '../support/lake.ts';
import { stackEnv } from '../support/stack-env.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWorkerInProcess } from '../support/workers.ts';

const groupId = `test-lake-${runId}`;
const prefix = `test-lake-${runId}/`;
// The CDC tables on topics of the file's own: the worker takes in this file's records, not what
// every file beside it produces. Reactions come from the shared koo.reactions (the lake reads it
// by its Avro contract), through a worker of their own test.
const cdc = {
  koos: privateCdcTopic(`test-lake-${runId}`, 'koos'),
  users: privateCdcTopic(`test-lake-${runId}`, 'users'),
  follows: privateCdcTopic(`test-lake-${runId}`, 'follows'),
};
const topics = Object.values(cdc);
const hour = (h: number, minute = 0) => Date.UTC(2026, 10, 27, h, minute);
const ROTATE_ROWS = 20;

/** A Debezium change as the connector writes it, changed at `changedAtMs`. */
function change(table: string, row: object, changedAtMs: number, lsn: number) {
  return JSON.stringify(envelope(table, 'c', null, row, lsn, changedAtMs));
}

type Position = `${string}/${number}/${string}`;
const positions = (topic: string, sent: RecordMetadata[][]): Position[] =>
  sent.flat().map((m) => `${topic}/${m.partition}/${m.baseOffset}` as Position);

const lakeEnv = (group: string, workerTopics: readonly string[]) => ({
  LAKE_GROUP_ID: group,
  LAKE_PREFIX: prefix,
  LAKE_CATALOG_NAME: prefix, // the tables of this test's lake
  LAKE_TOPICS: workerTopics.join(','),
  LAKE_ROTATE_ROWS: String(ROTATE_ROWS),
  LAKE_ROTATE_AGE_MS: '2000',
});

describe('lake worker (Kafka → Parquet on S3, read back with DuckDB)', () => {
  let admin: Admin;
  let producer: Producer;
  let worker: RunningWorker;
  const store = testLakeStore();

  beforeAll(async () => {
    const kafka = testKafka();
    admin = kafka.admin();
    producer = kafka.producer();
    await Promise.all([admin.connect(), producer.connect()]);
    await createTestTopics(admin, topics);
    worker = await startWorkerInProcess(lakeWorkerModule, lakeEnv(groupId, topics));
  });

  afterAll(async () => {
    await worker?.close();
    await deleteTestTopics(admin, topics);
    await Promise.all([admin?.disconnect(), producer?.disconnect()]);
    store.destroy();
  });

  it('lands every event once, typed, in the hour of its event time; bad input goes to the DLQ', async () => {
    const user = newId();
    const sent: Position[] = [];
    const expectedPerHour = new Map<string, number>();
    // Koos changed across three hours, one key per koo (so they spread over partitions); the
    // last ones are late events of the first hour.
    const koos = Array.from({ length: 240 }, (_, i) => ({
      id: newId(),
      at: i < 220 ? hour(8 + Math.floor(i / 80), i % 60) : hour(8, 59),
    }));
    for (const k of koos) {
      const key = `2026-11-27/${String(new Date(k.at).getUTCHours()).padStart(2, '0')}`;
      expectedPerHour.set(key, (expectedPerHour.get(key) ?? 0) + 1);
    }
    const kooBatches = [koos.slice(0, 120), koos.slice(120)];
    for (const part of kooBatches) {
      const meta = await producer.send({
        topic: cdc.koos,
        messages: part.map((k, i) => ({
          key: k.id,
          value: change('koos', kooRow(k.id, { creator_id: user }), k.at, 10_000 + i),
        })),
      });
      sent.push(...positions(cdc.koos, [meta]));
    }
    const users = Array.from({ length: 30 }, () => newId());
    sent.push(
      ...positions(cdc.users, [
        await producer.send({
          topic: cdc.users,
          messages: users.map((u, i) => ({ key: u, value: change('users', userRow(u), hour(9), i + 1) })),
        }),
      ]),
    );
    // A record that cannot be decoded, between two good ones of the same partition (same key),
    // all three within one block of LAKE_ROTATE_ROWS offsets (a good one is sent again until they fit).
    const badKey = newId();
    const follow = async (lsn: number) => {
      const [meta] = await producer.send({
        topic: cdc.follows,
        messages: [
          {
            key: badKey,
            value: change(
              'follows',
              { follower_id: user, followee_id: `${badKey}${lsn}`, created_at: '2026-11-27T09:00:00Z' },
              hour(9),
              lsn,
            ),
          },
        ],
      });
      sent.push(`${cdc.follows}/${meta!.partition}/${meta!.baseOffset}`);
      return meta!;
    };
    let lsn = 1;
    let before = await follow(lsn++);
    while (Number(before.baseOffset) % ROTATE_ROWS > ROTATE_ROWS - 3) before = await follow(lsn++);
    const [bad] = await producer.send({
      topic: cdc.follows,
      messages: [{ key: badKey, value: '{"op": "c", "after": ' }],
    });
    const after = await follow(lsn);

    // Every sent event in the lake (held segments are uploaded early after LAKE_ROTATE_AGE_MS).
    const lake = await waitFor(
      'every produced event in the lake',
      async () => {
        const snap = await lakeSnapshot(store, prefix);
        const found = new Set<string>();
        for (const t of topics) {
          const rows = await snap
            .rows(`select _kafka_partition, _kafka_offset from ${snap.topic(t)}`)
            .catch(() => []);
          for (const r of rows) found.add(`${t}/${String(r._kafka_partition)}/${String(r._kafka_offset)}`);
        }
        // `sent` has each send's first position per partition; the counts cover the rest of the
        // koos and users (an early upload may hold the start of a partition's records only).
        const count = async (topic: string, where: string) =>
          Number((await snap.rows(`select count(*) as n from ${snap.topic(topic)} where ${where}`))[0]!.n);
        if (
          sent.every((p) => found.has(p)) &&
          (await count(cdc.koos, `creator_id = '${user}'`)) === koos.length &&
          (await count(cdc.users, `user_id in (${users.map((u) => `'${u}'`).join(', ')})`)) === users.length
        )
          return snap;
        await snap.close();
        return undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    try {
      // Each (topic, partition, offset) exactly once.
      for (const t of topics) {
        const [dups] = await lake.rows(
          `select count(*) - count(distinct (_kafka_partition, _kafka_offset)) as dups from ${lake.topic(t)}`,
        );
        expect(Number(dups!.dups)).toBe(0);
      }
      const [kooCount] = await lake.rows(
        `select count(*) as n from ${lake.topic(cdc.koos)} where creator_id = '${user}'`,
      );
      expect(Number(kooCount!.n)).toBe(koos.length);
      // Types come from the schemas: timestamps are TIMESTAMP, integers integers, optional columns nullable.
      const types = Object.fromEntries(
        (await lake.rows(`describe select * from ${lake.topic(cdc.koos)}`)).map((r) => [
          r.column_name,
          r.column_type,
        ]),
      );
      expect(types).toMatchObject({
        content_id: 'VARCHAR',
        parent_id: 'VARCHAR',
        created_at: 'TIMESTAMP',
        _changed_at: 'TIMESTAMP',
        _op: 'VARCHAR',
        _lsn: 'BIGINT',
        _kafka_offset: 'BIGINT',
        _kafka_partition: 'INTEGER',
      });
      const userTypes = Object.fromEntries(
        (await lake.rows(`describe select * from ${lake.topic(cdc.users)}`)).map((r) => [
          r.column_name,
          r.column_type,
        ]),
      );
      expect(userTypes.is_eminent).toBe('BOOLEAN');
      // Hive partitions by event time, late events included; DuckDB prunes by dt and hr.
      for (const [key, n] of expectedPerHour) {
        const [dt, hr] = key.split('/');
        const [row] = await lake.rows(
          `select count(*) as n from ${lake.topic(cdc.koos)} where dt = '${dt}' and hr = '${hr}' and creator_id = '${user}'`,
        );
        expect(Number(row!.n), key).toBe(n);
      }
      // The bad record went to the DLQ and did not stop its file: its neighbours share an object.
      const [files] = await lake.rows(
        `select count(distinct filename) as files from ${lake.topic(cdc.follows)} where _kafka_partition = ${before.partition} and _kafka_offset in (${before.baseOffset}, ${after.baseOffset})`,
      );
      expect(Number(files!.files)).toBe(1);
    } finally {
      await lake.close();
    }
    const dlq = testKafka().consumer({ groupId: `${groupId}-dlq` });
    await dlq.connect();
    try {
      await dlq.subscribe({ topic: topicNames.dlq, fromBeginning: true });
      let found: Record<string, string> | undefined;
      await dlq.run({
        eachMessage: async ({ message }) => {
          const h = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          if (
            h[dlqHeaders.topic] === cdc.follows &&
            h[dlqHeaders.offset] === bad!.baseOffset &&
            h[dlqHeaders.worker] === 'lake'
          )
            found = h;
        },
      });
      const headers = await waitFor('the bad record in the DLQ', () => found, { timeoutMs: 30_000 });
      expect(headers[dlqHeaders.code]).toBe('DECODE_FAILED');
    } finally {
      await dlq.disconnect();
    }
  });

  it('lands reactions from the typed producer (Avro through the registry) once each, at their event time', async () => {
    const reactionsGroup = `${groupId}-reactions`;
    await pinGroupAtEnd(admin, reactionsGroup, [topicNames.reactions]);
    const reactionsWorker = await startWorkerInProcess(
      lakeWorkerModule,
      lakeEnv(reactionsGroup, [topicNames.reactions]),
    );
    onTestFinished(() => reactionsWorker.close());
    const reactions = await ReactionProducer.connect({
      brokers: stackEnv.kafkaBrokers,
      schemaRegistryUrl: stackEnv.schemaRegistryUrl,
    });
    const user = newId();
    const types = ['like', 'share', 'rekoo', 'unlike'] as const;
    try {
      await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          reactions.emit({
            type: types[i % types.length]!,
            content_id: newId(),
            user_id: user,
            event_time: hour(10, i % 60),
          }),
        ),
      );
    } finally {
      await reactions.close();
    }
    const from = (snap: { topic: (t: string) => string }) =>
      `${snap.topic(topicNames.reactions)} where user_id = '${user}'`;
    const lake = await waitFor(
      'every reaction in the lake',
      async () => {
        const snap = await lakeSnapshot(store, prefix);
        const [r] = await snap.rows(`select count(*) as n from ${from(snap)}`).catch(() => [{ n: 0 }]);
        if (Number(r!.n) >= 60) return snap;
        await snap.close();
        return undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    try {
      const [counts] = await lake.rows(
        `select count(*) as n, count(distinct (_kafka_partition, _kafka_offset)) as positions, count(distinct event_id) as events,
                min(event_time) as first, max(event_time) as last, count(distinct hr) as hours from ${from(lake)}`,
      );
      expect(counts).toMatchObject({ n: '60', positions: '60', events: '60', hours: '1' });
      expect(Date.parse(`${String(counts!.first)}Z`)).toBe(hour(10, 0));
      const types = Object.fromEntries(
        (await lake.rows(`describe select * from ${lake.topic(topicNames.reactions)}`)).map((r) => [
          r.column_name,
          r.column_type,
        ]),
      );
      expect(types).toMatchObject({ event_time: 'TIMESTAMP', type: 'VARCHAR', _kafka_offset: 'BIGINT' });
    } finally {
      await lake.close();
    }
  });
});
