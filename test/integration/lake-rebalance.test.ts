import { createSchemaRegistry } from '../../shared/avro/schema-registry-client.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import { LakeWorker, loadLakeConfig } from '../../workers/lake/lake-worker.ts';
import { envelope, kooRow, rawRecord } from '../support/cdc-events.ts';
import { runId } from '../support/ids.ts';
import { lakeSnapshot, listKeys, testLakeStore } from '../support/lake.ts';
import { waitFor } from '../support/wait-for.ts';
import { metrics } from '../../shared/metrics/metrics.ts';
import { stackEnv } from '../support/stack-env.ts';
import { handlerContext } from '../support/workers.ts';

const topic = topicNames.koos;
const prefix = `test-lake-rebalance-${runId}/`;
const changedAt = Date.UTC(2026, 10, 27, 8, 30);
const ctx = handlerContext();

/**
 * Two members of one group driven by hand through a takeover (issue 13, item 1), against the
 * stack's S3: what matters is the objects they leave, read back with DuckDB.
 */
describe('lake worker across a rebalance', () => {
  const stores: ReturnType<typeof testLakeStore>[] = [];
  const raw = (offset: number) => {
    return rawRecord(topic, envelope('koos', 'c', null, kooRow(`k${offset}`), offset + 1, changedAt), offset);
  };
  // Offsets 100–300 make records of one size: a segment holds up to 100 of them by bytes.
  const segmentBytes = 100 * raw(100).value!.length;
  const member = () => {
    const store = testLakeStore();
    stores.push(store);
    return new LakeWorker({
      store,
      registry: createSchemaRegistry(stackEnv.schemaRegistryUrl),
      config: loadLakeConfig({
        ...process.env,
        LAKE_PREFIX: prefix,
        LAKE_TOPICS: topic,
        LAKE_ROTATE_ROWS: '1000',
        LAKE_ROTATE_BYTES: String(segmentBytes),
      }),
    });
  };
  const batch = (worker: LakeWorker, from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => {
      const record = raw(from + i);
      return { raw: record, value: worker.decode(record)! };
    });

  afterAll(async () => {
    for (const store of stores) store.destroy();
  });

  it('a member that gets a partition back resumes from the committed offset, not onto the segment it held', async () => {
    const a = member();
    const b = member();
    a.assigned(); // joined, with partition 0
    await a.handle(batch(a, 100, 150), ctx); // A holds [100,150); its commit stays at 100
    // A is evicted (its upload outlived the rebalance timeout); B takes over from 100, cuts
    // [100,200) at offset 200 and commits 200.
    b.assigned(); // joined, with partition 0
    await b.handle(batch(b, 100, 201), ctx);
    expect(b.heldFrom(topic, 0)).toBe(200n);
    // A rejoins and gets the partition back: the runtime resumes it at the committed 200. Onto
    // the stale [100,150) it would cut [100,150)∪[200,250) at 250, under B's object's name and
    // reaching further, so replacing it: rows 150–199 gone.
    a.assigned(); // joined, with partition 0
    await a.handle(batch(a, 200, 301), ctx); // cuts [200,300) at offset 300

    const lake = await lakeSnapshot(stores[0]!, prefix);
    try {
      const rows = await lake.rows(
        `select count(*) as n, count(distinct _kafka_offset) as offsets, min(_kafka_offset) as first, max(_kafka_offset) as last
         from ${lake.topic(topic)}`,
      );
      expect(rows).toEqual([{ n: '200', offsets: '200', first: '100', last: '299' }]);
    } finally {
      await lake.close();
    }
    expect(a.heldFrom(topic, 0)).toBe(300n);
    await Promise.all([a.close(), b.close()]);
  });

  it('uploads a held segment early once until it changes, however long a sweep of many partitions takes', async () => {
    const store = testLakeStore();
    stores.push(store);
    const worker = new LakeWorker({
      store,
      registry: createSchemaRegistry(stackEnv.schemaRegistryUrl),
      // A segment held 1 s by the clock is uploaded early; the sweep runs every 250 ms.
      config: loadLakeConfig({
        ...process.env,
        LAKE_PREFIX: `${prefix}early/`,
        LAKE_TOPICS: topic,
        LAKE_ROTATE_AGE_MS: '1000',
      }),
    });
    const uploads = async () =>
      (await metrics.lakeUploadDuration.get()).values
        .filter((v) => v.metricName?.endsWith('_count') && v.labels.topic === topic)
        .reduce((sum, v) => sum + v.value, 0);
    const before = await uploads();
    worker.assigned();
    // Enough held partitions that one sweep of their uploads outlasts the sweep interval.
    const partitions = 40;
    for (let partition = 0; partition < partitions; partition++) {
      await worker.handle(
        batch(worker, 100, 110).map((r) => ({ ...r, raw: { ...r.raw, partition } })),
        ctx,
      );
    }
    await waitFor(
      'every held segment uploaded early',
      async () => (await listKeys(store, `${prefix}early/`)).length === partitions,
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    await worker.close(); // after the uploads queued so far
    expect((await uploads()) - before).toBe(partitions);
  });
});
