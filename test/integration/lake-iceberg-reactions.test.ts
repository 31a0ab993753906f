import { SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { afterAll, describe, expect, it } from 'vitest';
import { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import { topicNames } from '../../schemas/topics.ts';
import { createSchemaRegistry } from '../../shared/avro/schema-registry-client.ts';
import { frame } from '../../shared/avro/wire-format.ts';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { lakeWorkerModule } from '../../workers/lake/lake-worker.ts';
import { newId, runId } from '../support/ids.ts';
import { setOffsets, waitCommitted } from '../support/kafka.ts';
import { glueTestDatabases, lakeTestKafka, logEnds, readLakeTable } from '../support/lake.ts';
import { reactionSchemas } from '../support/reactions.ts';
import { stackEnv } from '../support/stack-env.ts';
import { startWorkerInProcess } from '../support/workers.ts';

// The reactions' Iceberg table in Glue, read back by pyiceberg, DuckDB and Spark SQL. It counts
// what a window of koo.reactions holds, so no file that produces reactions runs beside it
// (vitest.config.ts); the CDC tables: lake-iceberg.test.ts.

const prefix = `test-iceberg-reactions-${runId}/`;
const ROTATE_ROWS = 20;
const hour = (h: number, minute: number) => Date.UTC(2026, 10, 27, h, minute);
const glueDatabase = `test_lake_${runId}`;
const glueEnv = { LAKE_CATALOG_URL: `glue://${glueDatabase}` };

describe('lake Iceberg table of the reactions (read by pyiceberg, DuckDB and Spark)', () => {
  const kafka = lakeTestKafka(topicNames.reactions);
  const workers: RunningWorker[] = [];
  glueTestDatabases([glueDatabase]);
  afterAll(() => Promise.all(workers.map((w) => w.close())));

  it('holds the reactions (Avro through the registry) by the hour of their event time, across a field added to the reaction schema', async () => {
    const groupId = `test-iceberg-reactions-${runId}`;
    const reactionsTopic = topicNames.reactions;
    const ends = await logEnds(kafka.admin, reactionsTopic);
    await setOffsets(groupId, [{ topic: reactionsTopic, partitions: ends }]);
    // This table's catalog is Glue (the SQL catalog's path: lake-iceberg.test.ts).
    await startWorkerInProcess(lakeWorkerModule, {
      ...glueEnv,
      LAKE_GROUP_ID: groupId,
      LAKE_PREFIX: prefix,
      LAKE_TOPICS: reactionsTopic,
      LAKE_ROTATE_ROWS: String(ROTATE_ROWS),
      LAKE_ROTATE_AGE_MS: '600000',
    }).then((w) => workers.push(w));
    // 100 reactions to one koo (its key: one partition) over two event hours: the first 50 by the
    // app's producer (schemas/reaction.avsc), the last 50 by a producer whose schema has an added
    // field (`client`) the lake's release does not know yet.
    const producer = await ReactionProducer.connect({
      brokers: stackEnv.kafkaBrokers,
      schemaRegistryUrl: stackEnv.schemaRegistryUrl,
    });
    const contentId = newId();
    const reaction = (i: number) => ({
      event_id: newId(),
      type: 'like' as const,
      content_id: contentId,
      user_id: newId(),
      event_time: hour(10 + Math.floor(i / 50), i % 50),
    });
    try {
      for (let i = 0; i < 50; i++) await producer.emit(reaction(i));
    } finally {
      await producer.close();
    }
    const { withClient } = reactionSchemas;
    const { id: withClientId } = await createSchemaRegistry(stackEnv.schemaRegistryUrl).register(
      { type: SchemaType.AVRO, schema: JSON.stringify(withClient) },
      { subject: `test-lake-reactions-${runId}-value` },
    );
    const withClientType = avro.Type.forSchema(withClient as avro.Schema);
    await kafka.producer.send({
      topic: reactionsTopic,
      messages: Array.from({ length: 50 }, (_, i) => ({
        key: contentId,
        value: frame(withClientId, withClientType.toBuffer({ ...reaction(50 + i), client: 'android' })),
      })),
    });
    // The partition the koo's key chose is the one that grew (this file runs alone: vitest.config.ts).
    const grown = (await logEnds(kafka.admin, reactionsTopic)).find(
      (p) => p.offset !== ends.find((e) => e.partition === p.partition)!.offset,
    )!;
    const from = BigInt(ends.find((e) => e.partition === grown.partition)!.offset);
    expect(BigInt(grown.offset) - from).toBe(100n);
    const held = Number(((from + 99n) / BigInt(ROTATE_ROWS)) * BigInt(ROTATE_ROWS) - from);
    await waitCommitted(kafka.admin, groupId, reactionsTopic, [
      { partition: grown.partition, offset: from + BigInt(held) },
    ]);
    const read = await readLakeTable(reactionsTopic, glueEnv);
    expect(read).toMatchObject({ pyiceberg_rows: held, duckdb_rows: held, duplicate_positions: 0 });
    // The readers read old and new files without options: the old rows' client is null.
    const columns = { event_id: held, event_time: held, content_id: held, client: held - 50 };
    expect(read.non_null).toMatchObject(columns);
    // Spark SQL through Iceberg's GlueCatalog.
    const bySpark = await readLakeTable(reactionsTopic, glueEnv, '--spark');
    expect(bySpark).toMatchObject({ spark_rows: held, spark_duplicate_positions: 0 });
    expect(bySpark.spark_non_null).toMatchObject(columns);
  });
});
