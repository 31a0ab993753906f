import type { EachBatchPayload, IHeaders, Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KooError } from '../../shared/errors/koo-error.ts';
import type { DecodedRecord } from '../../shared/kafka/records.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { metrics } from '../../shared/metrics/metrics.ts';
import { ConsumerRuntime } from '../../shared/runtime/consumer-runtime.ts';
import type { WorkerDefinition } from '../../shared/runtime/worker-definition.ts';

type Commit = { topic: string; partition: number; offset: string };

/** A kafkajs stand-in with just what the runtime calls: it records commits and runs batches on demand. */
function fakeKafka(options: { failCommits?: boolean } = {}) {
  const commits: Commit[] = [];
  const handlers = new Map<string, (e: { payload: unknown }) => void>();
  let eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  const consumer = {
    events: { GROUP_JOIN: 'join', CRASH: 'crash', DISCONNECT: 'disconnect', STOP: 'stop' },
    on: (event: string, handler: (e: { payload: unknown }) => void) => handlers.set(event, handler),
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async (config: { eachBatch: typeof eachBatch }) => {
      eachBatch = config.eachBatch;
    },
    commitOffsets: async (offsets: Commit[]) => {
      if (options.failCommits) throw new KooError('KAFKA_UNAVAILABLE', 'not the owner any more');
      commits.push(...offsets);
    },
    stop: async () => undefined,
    disconnect: async () => undefined,
  };
  const producer = {
    connect: async () => undefined,
    send: async () => [],
    disconnect: async () => undefined,
  };
  const kafka = { consumer: () => consumer, producer: () => producer } as unknown as Kafka;
  /** Delivers offsets [from, from + count) of partition 0 as one fetched batch; resolves with the offsets resolved. */
  const deliver = async (
    from: number,
    count: number,
    headersAt: (i: number) => IHeaders = () => ({}),
    heartbeat: () => Promise<void> = async () => undefined,
  ) => {
    const resolved: string[] = [];
    const messages = Array.from({ length: count }, (_, i) => ({
      offset: String(from + i),
      key: null,
      value: Buffer.from('v'),
      timestamp: '0',
      headers: headersAt(i),
    }));
    await eachBatch!({
      batch: { topic: 't', partition: 0, messages, highWatermark: String(from + count) },
      resolveOffset: (offset: string) => resolved.push(offset),
      heartbeat,
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload);
    return resolved;
  };
  const join = (assignment: Record<string, number[]>) =>
    handlers.get('join')!({ payload: { memberId: 'm', memberAssignment: assignment } });
  const crash = (error: Error, restart: boolean) => handlers.get('crash')!({ payload: { error, restart } });
  return { kafka, commits, deliver, join, crash };
}

function worker(extra: Partial<WorkerDefinition<string>> = {}): WorkerDefinition<string> {
  return {
    name: 'test',
    groupId: 'g',
    topics: ['t'],
    decode: (r) => r.offset,
    handle: async () => undefined,
    ...extra,
  };
}

const runtimeOptions = {
  batchSize: 2,
  dlqTopic: 'dlq',
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 20_000,
  fromBeginning: false,
  partitionsConcurrently: 4,
};

async function started(w: WorkerDefinition<string>, fake: ReturnType<typeof fakeKafka>) {
  const runtime = new ConsumerRuntime(fake.kafka, w, runtimeOptions, createLogger('test', 'silent'));
  await runtime.start();
  return runtime;
}

describe('consumer runtime offsets', () => {
  it('commits past each chunk once the worker has handled it', async () => {
    const fake = fakeKafka();
    await started(worker(), fake);
    expect(await fake.deliver(10, 5)).toEqual(['11', '13', '14']);
    expect(fake.commits.map((c) => c.offset)).toEqual(['12', '14', '15']);
  });

  it('commits only up to the first offset a holding worker still has in memory', async () => {
    // Holds records from the last multiple of 4 on, like the lake's segments; `flushed` lets go of all.
    let held: bigint | undefined;
    let flushed = false;
    const holding = worker({
      handle: async (batch: DecodedRecord<string>[]) => {
        for (const r of batch) {
          const offset = BigInt(r.value);
          if (offset % 4n === 0n) held = undefined; // a cut: everything before is durable
          held ??= offset;
        }
      },
      heldFrom: () => (flushed ? undefined : held),
    });
    const fake = fakeKafka();
    await started(holding, fake);
    await fake.deliver(10, 5); // chunks 10-11 | 12-13 | 14
    expect(fake.commits.map((c) => c.offset)).toEqual(['10', '12', '12']);
    flushed = true;
    await fake.deliver(15, 1);
    expect(fake.commits.at(-1)!.offset).toBe('16'); // nothing held: past the chunk
  });

  it('resolves nothing and stops the batch when the commit fails (the partition moved)', async () => {
    const fake = fakeKafka({ failCommits: true });
    await started(worker(), fake);
    expect(await fake.deliver(10, 5)).toEqual([]);
  });

  it('stops the handler when a heartbeat says the group rebalances, and commits nothing of the batch', async () => {
    let rebalancing = false;
    let stoppedBy: AbortSignal | undefined;
    const slow = worker({
      handle: async (_batch, ctx) => {
        rebalancing = true; // the group starts rebalancing while this batch's effects are in flight
        await ctx.heartbeat();
        stoppedBy = ctx.signal;
        if (ctx.signal.aborted) throw new Error('stopped before the batch was done');
      },
    });
    const fake = fakeKafka();
    await started(slow, fake);
    const resolved = await fake.deliver(10, 4, undefined, async () => {
      if (rebalancing) throw Object.assign(new Error('rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
    });
    expect(stoppedBy?.aborted).toBe(true);
    expect(resolved).toEqual([]);
    expect(fake.commits).toEqual([]);
  });

  it('tells a holding worker its partitions after every join', async () => {
    const seen: Record<string, number[]>[] = [];
    const fake = fakeKafka();
    await started(worker({ assigned: (a) => seen.push(a) }), fake);
    fake.join({ t: [0, 3] });
    expect(seen).toEqual([{ t: [0, 3] }]);
  });
});

describe('consumer runtime and DLQ redrives', () => {
  it('handles a redriven record only in the worker it is meant for, and commits past it in the others', async () => {
    const handledBy = { test: [] as string[], other: [] as string[] };
    for (const name of ['test', 'other'] as const) {
      const fake = fakeKafka();
      await started(
        worker({ name, handle: async (batch) => void handledBy[name].push(...batch.map((r) => r.value)) }),
        fake,
      );
      await fake.deliver(0, 2, (i) => (i === 1 ? { 'koo-redrive-for': Buffer.from('test') } : {}));
      expect(fake.commits.at(-1)?.offset).toBe('2');
    }
    expect(handledBy).toEqual({ test: ['0', '1'], other: ['0'] });
  });
});

describe('consumer runtime lag gauge', () => {
  it('stops exporting the lag of a partition that moved to another member', async () => {
    const fake = fakeKafka();
    await started(worker({ name: 'lag-test' }), fake);
    const lagOf = async () =>
      (await metrics.consumerLag.get()).values.filter((v) => v.labels.worker === 'lag-test');
    fake.join({ t: [0] });
    await fake.deliver(0, 3);
    expect((await lagOf()).map((v) => v.labels.partition)).toEqual(['0']);
    fake.join({ t: [1] });
    expect(await lagOf()).toEqual([]);
  });
});

describe('consumer runtime crashes', () => {
  it('reports a crash kafkajs will not restart from, and only that', async () => {
    const fake = fakeKafka();
    const fatal: string[] = [];
    const options = { ...runtimeOptions, onFatal: (err: Error) => fatal.push(err.message) };
    await new ConsumerRuntime(fake.kafka, worker(), options, createLogger('test', 'silent')).start();
    fake.crash(new Error('coordinator moved'), true);
    fake.crash(new Error('Failed to find group coordinator'), false);
    expect(fatal).toEqual(['Failed to find group coordinator']);
  });
});
