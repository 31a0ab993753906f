import { afterAll, describe, expect, it } from 'vitest';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { lakeWorkerModule } from '../../workers/lake/lake-worker.ts';
import { envelope, kooRow } from '../support/cdc-events.ts';
import { newId, runId } from '../support/ids.ts';
import {
  LakeMirror,
  lakeTestKafka,
  listKeys,
  privateCdcTopic,
  readLakeTable,
  testLakeStore,
} from '../support/lake.ts';
import { waitFor } from '../support/wait-for.ts';
import {
  spawnWorker,
  startWorkerInProcess,
  type WorkerProcess,
  crashSessionTimeout,
} from '../support/workers.ts';
import { setOffsets, waitCommitted } from '../support/kafka.ts';

const EVENTS = 100_000;
const KILLS = 4;
const prefix = `test-lake-crash-${runId}/`;
// Its own topic: what the table holds is this test's records only, whatever else writes koos.
const topic = privateCdcTopic(`test-lake-crash-${runId}`);

describe('lake worker SIGKILLed repeatedly while 100,000 events flow', () => {
  const kafka = lakeTestKafka(topic, { create: true });
  const store = testLakeStore();
  const mirror = new LakeMirror(store, prefix); // polls download what is new, not the lake
  const children: WorkerProcess[] = [];
  let replay: RunningWorker | undefined;
  const env = (groupId: string) => ({
    LAKE_GROUP_ID: groupId,
    LAKE_PREFIX: prefix,
    LAKE_CATALOG_NAME: prefix, // the tables of this test's lake
    LAKE_TOPICS: topic,
    LAKE_ROTATE_ROWS: '1000',
    LAKE_ROTATE_AGE_MS: '3000',
    BATCH_SIZE: '1000',
    ...crashSessionTimeout,
  });
  const pin = (groupId: string) => setOffsets(groupId, [{ topic, partitions: kafka.startOffsets }]);

  afterAll(async () => {
    for (const c of children) c.child.kill('SIGKILL');
    await replay?.close();
    await mirror.close();
    store.destroy();
  });

  it('holds every event exactly once, and a replay from the start leaves the same objects, byte for byte', async () => {
    const groupId = `test-lake-crash-${runId}`;
    await pin(groupId);
    const creator = newId();
    const start = () => {
      const w = spawnWorker('lake', env(groupId));
      children.push(w);
      return w;
    };
    let victim = start();
    const chunk = EVENTS / 20;
    let kills = 0;
    for (let i = 0; i < EVENTS; i += chunk) {
      await kafka.producer.send({
        topic,
        messages: Array.from({ length: chunk }, (_, j) => {
          const id = newId();
          // Three event hours, interleaved, so every segment writes several hour files.
          const changedAt = Date.UTC(2026, 10, 27, 8 + ((i + j) % 3));
          const row = kooRow(id, { creator_id: creator });
          return { key: id, value: JSON.stringify(envelope('koos', 'c', null, row, i + j + 1, changedAt)) };
        }),
      });
      if (i % (EVENTS / KILLS) === 0 && i > 0) {
        await new Promise((r) => setTimeout(r, 1500)); // let it upload and commit some, then kill mid-stream
        victim.child.kill('SIGKILL');
        await victim.exited;
        kills++;
        victim = start();
      }
    }
    expect(kills).toBe(KILLS - 1);

    const countRows = async () => {
      const lake = await mirror.snapshot();
      try {
        const [r] = await lake.rows(
          `select count(*) as n, count(distinct (_kafka_partition, _kafka_offset)) as distinct_positions from ${lake.topic(topic)} where creator_id = '${creator}'`,
        );
        return { rows: Number(r!.n), distinct: Number(r!.distinct_positions) };
      } catch {
        return { rows: 0, distinct: 0 };
      } finally {
        await lake.close();
      }
    };
    const counts = await waitFor(
      'all 100,000 events in the lake',
      async () => {
        const c = await countRows();
        return c.distinct === EVENTS ? c : undefined;
      },
      { timeoutMs: 150_000, intervalMs: 3000 },
    );
    expect(counts.rows).toBe(EVENTS);
    victim.child.kill('SIGTERM');
    await victim.exited;
    const original = await listKeys(store, prefix);
    // The Iceberg table holds every record the group committed, once, whatever the kills cut short:
    // each partition from where the test began up to the offset its snapshot records, which is at
    // least the group's committed offset (a segment is added before its offset is committed).
    const [offsets] = await kafka.admin.fetchOffsets({ groupId, topics: [topic] });
    const table = await readLakeTable(topic, { LAKE_CATALOG_NAME: prefix });
    let held = 0;
    for (const { partition, offset } of kafka.startOffsets) {
      const committed = Number(offsets!.partitions.find((p) => p.partition === partition)!.offset);
      const through = table.next_offsets[String(partition)] ?? Number(offset);
      expect(through, `partition ${partition}`).toBeGreaterThanOrEqual(Math.max(committed, Number(offset)));
      held += through - Number(offset);
    }
    expect(held).toBeGreaterThan(0);
    expect(table).toMatchObject({ pyiceberg_rows: held, duckdb_rows: held, duplicate_positions: 0 });

    // Replay from the same start with a new group: the same objects, byte for byte.
    const replayGroup = `${groupId}-replay`;
    await pin(replayGroup);
    replay = await startWorkerInProcess(lakeWorkerModule, env(replayGroup));
    const same = (a: { key: string; etag: string }[], b: { key: string; etag: string }[]) =>
      a.length === b.length && a.every((o, i) => o.key === b[i]!.key && o.etag === b[i]!.etag);
    // Up to the offsets the first run committed, the replay has cut and uploaded what it did (the
    // open segments' objects follow by age): the listing is compared from then on.
    await waitCommitted(kafka.admin, replayGroup, topic, offsets!.partitions, 90_000);
    await waitFor(
      'the replay to come to the same objects',
      async () => same(await listKeys(store, prefix), original),
      {
        timeoutMs: 90_000,
        intervalMs: 2000,
      },
    );
    expect(await countRows()).toEqual({ rows: EVENTS, distinct: EVENTS });
    // The replay re-cut the segments the table holds: it added none of them again.
    expect(await readLakeTable(topic, { LAKE_CATALOG_NAME: prefix })).toMatchObject({
      pyiceberg_rows: held,
      duplicate_positions: 0,
      snapshots: table.snapshots,
    });
  });
});
