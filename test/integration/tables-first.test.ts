import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logging/logger.ts';
import { ConsumerRuntime } from '../../shared/runtime/consumer-runtime.ts';
import type { WorkerDefinition } from '../../shared/runtime/worker-definition.ts';
import { newId } from '../support/ids.ts';
import { testKafka } from '../support/kafka.ts';
import { waitFor } from '../support/wait-for.ts';

/**
 * A backlog of two topics, one joined as a table (as the content worker joins users to koos):
 * the member processes the table's partitions first, though the stream's records are older and
 * come in the same fetches. Against the stack's Kafka.
 */
describe('tables first: a member catches up the topics it joins as tables before the others', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  const runId = newId();
  const table = `test.tables-first.users.${runId}`;
  const stream = `test.tables-first.koos.${runId}`;
  afterAll(async () => {
    await admin.deleteTopics({ topics: [table, stream] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('handles every table record of the backlog before the first stream record', async () => {
    await admin.connect();
    await admin.createTopics({
      topics: [table, stream].map((topic) => ({ topic, numPartitions: 6, replicationFactor: 1 })),
      waitForLeaders: true,
    });
    const producer = kafka.producer();
    await producer.connect();
    const send = (topic: string, count: number) =>
      producer.send({
        topic,
        messages: Array.from({ length: count }, (_, i) => ({ key: `${topic}-${i}`, value: `${i}` })),
      });
    // The stream's records first: the log alone would put them ahead of the table's.
    await send(stream, 600);
    await send(table, 300);
    await producer.disconnect();

    const handled: string[] = [];
    const worker: WorkerDefinition<string> = {
      name: 'tables-first-test',
      groupId: `koo-test-tables-first-${runId}`,
      topics: [stream, table],
      tableTopics: [table],
      decode: (r) => r.topic,
      handle: async (batch) => {
        await new Promise((r) => setTimeout(r, 20)); // some I/O per batch, as a worker's
        handled.push(...batch.map((r) => r.value));
      },
    };
    const runtime = new ConsumerRuntime(
      kafka,
      worker,
      {
        batchSize: 50,
        dlqTopic: `test.tables-first.dlq.${runId}`,
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        fromBeginning: true,
        partitionsConcurrently: 4,
        tableCatchUpMaxMs: 30_000,
      },
      createLogger('test', 'error'),
    );
    try {
      await runtime.start();
      await waitFor('every record handled', () => handled.length >= 900, { timeoutMs: 60_000 });
    } finally {
      await runtime.close();
    }
    expect(handled.length).toBe(900);
    expect(handled.indexOf(stream)).toBe(300);
    expect(handled.lastIndexOf(table)).toBe(299);
  });
});
