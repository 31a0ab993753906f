import type { Admin, Kafka } from 'kafkajs';
import { topicNames } from '../schemas/topics.ts';
import { moveGroupToEnd } from '../shared/kafka/consumer-lag.ts';
import { metrics } from '../shared/metrics/metrics.ts';
import { sleep } from '../shared/runtime/backoff.ts';
import { reactionsWorkerModule } from '../workers/reactions/reactions-worker.ts';
import { until, workerConsumer, type BenchConsumer } from './drain.ts';
import { reactionBench } from './reactions.ts';
import { stackPid } from './stack-cpu.ts';
import { naiveReactionsConsumer } from './naive-reactions.ts';
import { latencyFigures, round, type Figures } from './report.ts';

/**
 * npm run bench -- slow-sink
 * DynamoDB stops answering for BENCH_PAUSE_SECONDS (30): the stack's DynamoDB process is stopped
 * (SIGSTOP) and continued (SIGCONT), while reactions arrive at BENCH_SLOW_SINK_RATE (200/s) for
 * 10 s before, during and 20 s after. For the reactions worker and the naive consumer in turn:
 * the requests that failed (timeouts, refused) while it was paused and after it resumed, the
 * backlog at the resume and how long the consumer took to drain it, and the latency of the
 * events produced after the resume.
 */

/** DynamoDB requests this process made so far, by whether they got an answer. */
async function requestCounts(): Promise<{ all: number; failed: number }> {
  const values = (await metrics.dynamodbRequests.get()).values;
  return {
    all: values.reduce((s, v) => s + v.value, 0),
    failed: values.filter((v) => v.labels.outcome === 'error').reduce((s, v) => s + v.value, 0),
  };
}

export async function benchSlowSink(): Promise<Figures[]> {
  const rate = Number(process.env.BENCH_SLOW_SINK_RATE ?? 200);
  const pauseSeconds = Number(process.env.BENCH_PAUSE_SECONDS ?? 30);
  const [beforeSeconds, afterSeconds] = [10, 20];
  const { config, naivePrefix, kafka, admin, dynamo, producer, run, workload } = await reactionBench(
    500,
    'bench-slow',
    Date.now() % 2 ** 31,
    10,
  );
  const dynamoPid = stackPid('dynamodb');
  if (dynamoPid === undefined)
    throw new Error("bench slow-sink: the local stack's DynamoDB is not running here");

  const consumers: BenchConsumer[] = [
    workerConsumer('reactions worker', reactionsWorkerModule, 'REACTIONS_GROUP_ID'),
    naiveReactionsConsumer(kafka, dynamo, naivePrefix, config.SCHEMA_REGISTRY_URL),
  ];
  const rows: Figures[] = [];
  try {
    for (const [i, consumer] of consumers.entries()) {
      rows.push(
        await throughPause(
          consumer,
          `bench-slow-sink-${i}-${run}`,
          { kafka, admin },
          {
            rate,
            seconds: [beforeSeconds, pauseSeconds, afterSeconds],
            produce: (n) => Promise.all(workload.next(n).map((e) => producer.emit(e))).then(() => undefined),
            pause: () => process.kill(dynamoPid, 'SIGSTOP'),
            resume: () => process.kill(dynamoPid, 'SIGCONT'),
          },
        ),
      );
    }
  } finally {
    process.kill(dynamoPid, 'SIGCONT');
    await producer.close();
    await admin.disconnect();
    dynamo.destroy();
  }
  return rows;
}

/** One consumer through a pause of DynamoDB under a steady load. */
async function throughPause(
  consumer: BenchConsumer,
  groupId: string,
  { kafka, admin }: { kafka: Kafka; admin: Admin },
  o: {
    rate: number;
    seconds: [before: number, paused: number, after: number];
    produce: (events: number) => Promise<void>;
    pause: () => void;
    resume: () => void;
  },
): Promise<Figures> {
  await moveGroupToEnd(kafka, admin, groupId, [topicNames.reactions]);
  let done = 0;
  let resumedAt = Infinity;
  const afterResume: number[] = [];
  const stop = await consumer.start(groupId, (records) => {
    const now = Date.now();
    done += records.length;
    for (const r of records) if (Number(r.timestamp) > resumedAt) afterResume.push(now - Number(r.timestamp));
  });
  const [before, paused, after] = o.seconds;
  const tick = 50;
  const perTick = (o.rate * tick) / 1000;
  let produced = 0;
  let producedAtResume = Infinity;
  let doneAtResume = 0;
  let drainedAt: number | undefined;
  let atPause = { all: 0, failed: 0 };
  let atResume = { all: 0, failed: 0 };
  const began = Date.now();
  for (let t = 0; t < (before + paused + after) * 1000; t += tick) {
    if (t === before * 1000) {
      atPause = await requestCounts();
      o.pause();
    }
    if (t === (before + paused) * 1000) {
      o.resume();
      resumedAt = Date.now();
      [producedAtResume, doneAtResume] = [produced, done];
      atResume = await requestCounts();
    }
    await o.produce(perTick);
    produced += perTick;
    if (drainedAt === undefined && done >= producedAtResume) drainedAt = Date.now();
    await sleep(began + t + tick - Date.now());
  }
  await until(`${consumer.label} to catch up after the pause`, () => done >= produced);
  drainedAt ??= Date.now();
  const atEnd = await requestCounts();
  await stop();
  return {
    consumer: consumer.label,
    events: produced,
    paused_s: paused,
    // Requests are counted when they end: those sent while paused end at or after the resume.
    requests_ended_while_paused: atResume.all - atPause.all,
    failed_requests_while_paused: atResume.failed - atPause.failed,
    failed_requests_after_resume: atEnd.failed - atResume.failed,
    requests_after_resume: atEnd.all - atResume.all,
    backlog_at_resume: producedAtResume - doneAtResume,
    drained_s_after_resume: round((drainedAt - resumedAt) / 1000, 1),
    ...latencyFigures(afterResume, 'after_resume_'),
  };
}
