import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { compactHour, compactionCandidates, mergePartitionHour } from '../../workers/lake/compaction.ts';
import { hourPrefix, objectKey } from '../../workers/lake/layout.ts';
import { listLakeObjects, summarizeHours } from '../../workers/lake/lake-listing.ts';
import { lakeColumns } from '../../workers/lake/lake-rows.ts';
import { lakeWorkerModule } from '../../workers/lake/lake-worker.ts';
import { putHourFile } from '../../workers/lake/lake-writes.ts';
import { encodeParquet } from '../../workers/lake/parquet-encoder.ts';
import { envelope, kooRow } from '../support/cdc-events.ts';
import { newId, runId } from '../support/ids.ts';
import {
  lakeSnapshot,
  lakeTestKafka,
  listKeys,
  logEnds,
  privateCdcTopic,
  testLakeStore,
} from '../support/lake.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWorkerInProcess } from '../support/workers.ts';
import { committedByPartition } from '../../shared/kafka/consumer-lag.ts';
import { setOffsets, waitCommitted } from '../support/kafka.ts';

const prefix = `test-lake-compact-${runId}/`;
// Its own topic: the worker takes in this test's records only, and the replay can be driven past
// every one of them.
const topic = privateCdcTopic(`test-lake-compact-${runId}`);
const groupId = `test-lake-compact-${runId}`;
const hour = { dt: '2026-11-27', hr: '08' };
const EVENTS = 360;

describe('koo lake compact: an hour merged per partition, exactly once, beside replays', () => {
  const kafka = lakeTestKafka(topic, { create: true });
  let worker: RunningWorker | undefined;
  const store = testLakeStore();
  const creator = newId();
  /** A new koo of `creator`, as Debezium writes its create, changed at `changedAt`. */
  const kooCreated = (lsn: number, changedAt: number) => {
    const id = newId();
    return {
      key: id,
      value: JSON.stringify(envelope('koos', 'c', null, kooRow(id, { creator_id: creator }), lsn, changedAt)),
    };
  };
  const env = (group: string) => ({
    LAKE_GROUP_ID: group,
    LAKE_PREFIX: prefix,
    LAKE_CATALOG_NAME: prefix, // the tables of this test's lake
    LAKE_TOPICS: topic,
    LAKE_ROTATE_ROWS: '8', // several small objects per partition and hour
    LAKE_ROTATE_AGE_MS: '1000',
  });
  /** (partition, offset, content id) of the hour's rows, with how often each appears. */
  const hourRows = async () => {
    const lake = await lakeSnapshot(store, prefix);
    try {
      return await lake.rows(
        `select _kafka_partition, _kafka_offset, content_id, count(*) as n from ${lake.topic(topic)}
         where dt = '${hour.dt}' and hr = '${hour.hr}' and creator_id = '${creator}'
         group by all order by _kafka_partition, _kafka_offset`,
      );
    } finally {
      await lake.close();
    }
  };

  beforeAll(async () => {
    await setOffsets(groupId, [{ topic, partitions: kafka.startOffsets }]);
    worker = await startWorkerInProcess(lakeWorkerModule, env(groupId));
    // Hours 08 and 09 interleaved, so every segment writes a file of each.
    await kafka.producer.send({
      topic,
      messages: Array.from({ length: EVENTS }, (_, i) =>
        kooCreated(i + 1, Date.UTC(2026, 10, 27, 8 + (i % 2), i % 60)),
      ),
    });
    await waitFor(
      'every event in the lake',
      async () => {
        const lake = await lakeSnapshot(store, prefix);
        try {
          const [r] = await lake
            .rows(`select count(*) as n from ${lake.topic(topic)} where creator_id = '${creator}'`)
            .catch(() => [{ n: 0 }]);
          return Number(r!.n) === EVENTS || undefined;
        } finally {
          await lake.close();
        }
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
  });

  afterAll(async () => {
    await worker?.close();
    store.destroy();
  });

  it('merges committed objects; a crash between write and delete loses nothing and a re-run repairs', async () => {
    const before = await hourRows();
    expect(before.length).toBe(EVENTS / 2);
    const offsets = await committedByPartition(kafka.admin, groupId, topic);
    const target = { prefix, topic, ...hour, committed: offsets, columns: lakeColumns(topic) };

    // Crash after step 1 (merged objects written), before step 2 (covered objects deleted).
    const objects = await store.listAll(hourPrefix(prefix, topic, hour));
    for (const [partition, candidates] of compactionCandidates(prefix, objects, offsets))
      await mergePartitionHour(store, target, partition, candidates);
    const crashed = await hourRows();
    expect(crashed.map((r) => `${r._kafka_partition}/${r._kafka_offset}`)).toEqual(
      before.map((r) => `${r._kafka_partition}/${r._kafka_offset}`),
    );
    const [crashedHour] = summarizeHours(
      await listLakeObjects(store, prefix, hourPrefix(prefix, topic, hour)),
    );
    expect(crashedHour!.overlapping).toBeGreaterThan(0); // what `koo lake ls` shows until the re-run

    const results = await compactHour(store, target);
    expect(results.length).toBeGreaterThan(0);
    expect(await hourRows()).toEqual(before); // same rows, each once
    const after = await listLakeObjects(store, prefix, hourPrefix(prefix, topic, hour));
    expect(summarizeHours(after)[0]!.overlapping).toBe(0);
    // One object per partition holds its committed rows; only objects not committed yet stay apart.
    for (const r of results) {
      const rest = after.filter((o) => o.partition === r.partition && o.key !== r.key);
      expect(
        rest.every((o) => o.firstOffset >= offsets.get(r.partition)!),
        r.key,
      ).toBe(true);
    }
    expect(after.length).toBeLessThan(objects.length);

    // Running it again changes nothing.
    const again = await compactHour(store, target);
    expect(again.every((r) => r.unchanged && r.deleted.length === 0)).toBe(true);
  });

  it('a replay from the start after compaction leaves the compacted objects as they are', async () => {
    const compacted = () => listKeys(store, hourPrefix(prefix, topic, hour));
    const original = await compacted();
    const rows = await hourRows();
    await worker?.close();
    worker = undefined;
    const replayGroup = `${groupId}-replay`;
    await setOffsets(replayGroup, [{ topic, partitions: kafka.startOffsets }]);
    worker = await startWorkerInProcess(lakeWorkerModule, env(replayGroup));
    // The replay cuts where the first run did. A record per partition, produced now (past the
    // age limit of every held segment), in another hour, cuts the segments the first run left
    // held as well: once the replay has committed up to them, it has written all it will of the
    // hour, its early uploads of those segments included.
    const ends = await logEnds(kafka.admin, topic);
    const later = Date.UTC(2026, 10, 27, 11);
    await kafka.producer.send({
      topic,
      messages: ends.map(({ partition }, i) => ({ ...kooCreated(EVENTS + i + 1, later), partition })),
    });
    await waitCommitted(kafka.admin, replayGroup, topic, ends, 60_000);
    expect(await compacted()).toEqual(original);
    expect(await hourRows()).toEqual(rows);
  });

  it('a stale upload of a file never replaces the larger object of its new owner', async () => {
    const place = { prefix: `test-lake-stale-${runId}/`, topic, partition: 0, hour };
    const columns = lakeColumns(topic);
    const file = (last: number) => ({ firstOffset: 100n, lastOffset: BigInt(last) });
    const rows = (last: number) =>
      Array.from({ length: last - 99 }, (_, i) => ({
        ...kooRow(`k${i}`),
        created_at: 0,
        updated_at: 0,
        _op: 'c',
        _lsn: i,
        _tx_id: null,
        _changed_at: 0,
        _kafka_partition: 0,
        _kafka_offset: 100 + i,
      }));
    const encode = (last: number) => () => encodeParquet(columns, rows(last));
    const key = objectKey(place.prefix, topic, 0, { ...hour, firstOffset: 100n });
    // The old owner's first early upload, then the new owner's cut with more rows.
    expect(await putHourFile(store, place, file(130), encode(130))).toMatchObject({ outcome: 'written' });
    const early = (await store.head(key))!;
    expect(await putHourFile(store, place, file(180), encode(180))).toMatchObject({ outcome: 'written' });
    const newer = (await store.head(key))!;
    // The old owner's next early upload, decided before or after the new owner's write.
    expect(await putHourFile(store, place, file(150), encode(150))).toEqual({ outcome: 'held' });
    expect(
      await store.put(key, encode(150)(), { lastOffset: 150n, condition: { ifMatch: early.etag } }),
    ).toBe(false);
    expect(await store.head(key)).toEqual(newer);
    // A replay of the new owner's file (the same rows) by a release that encodes them otherwise
    // (here: other string encodings): the object stays as it is, bytes and size, since an Iceberg
    // table may hold it with its size recorded.
    const otherEncoding = () =>
      encodeParquet(
        columns.map((c) => ({ ...c, distinct: !c.distinct })),
        rows(180),
      );
    expect(await putHourFile(store, place, file(180), otherEncoding)).toEqual({
      outcome: 'present',
      bytes: newer.size,
    });
    expect(await store.head(key)).toEqual(newer);
  });
});
