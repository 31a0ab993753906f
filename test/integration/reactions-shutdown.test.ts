import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import { runId } from '../support/ids.ts';
import { groupCaughtUp } from '../support/kafka.ts';
import { reactionReadPath, reactionTestKafka, reactionWorkloadOf } from '../support/reactions.ts';
import { stackEnv } from '../support/stack-env.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait-for.ts';
import { workerReplicas } from '../support/workers.ts';

const groupId = `test-reactions-shutdown-${runId}`;
const topics = [topicNames.reactions];

// A rollout stops replicas that are busy: a SIGTERM while a chunk's writes are still going out to
// a slow DynamoDB must end the process well within its shutdown deadline, not after the chunk's
// remaining writes (an evicted member's writes are fenced, so nothing needs them to finish).
describe('reactions worker stopped with SIGTERM while DynamoDB answers slowly', () => {
  const kafka = reactionTestKafka(groupId, topics);
  const read = reactionReadPath();
  const replicas = workerReplicas('reactions', { REACTIONS_GROUP_ID: groupId, SHUTDOWN_TIMEOUT_MS: '9000' });
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;

  beforeAll(async () => {
    proxy = await startTcpProxy(new URL(stackEnv.dynamodbEndpoint));
  });

  afterAll(async () => {
    replicas.killAll();
    await proxy?.close();
    read.dynamo.destroy();
  });

  it('exits by itself within 3 s of SIGTERM, and the next owner counts every reaction', async () => {
    const { koos, workload } = reactionWorkloadOf(11, 3_000, 2_000, 0);
    await Promise.all(workload.next(12_000).map((e) => kafka.producer.emit(e)));
    await Promise.all(workload.drain().map((e) => kafka.producer.emit(e)));
    await kafka.producer.flush();

    // A second an answer: a chunk over a thousand koos is a minute of writes at 16 in flight.
    proxy.slowAnswers(1_000);
    const busy = replicas.start({ DYNAMODB_ENDPOINT: proxy.url });
    // Its own writes, through the proxy: the counters move under other files' reactions workers
    // too (they read the same topic), before this replica has even loaded its modules.
    await waitFor('the replica to be writing', () => proxy.calls('TransactWriteItems') > 0, {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    const signalled = performance.now();
    busy.child.kill('SIGTERM');
    const status = await busy.exited;
    const ms = performance.now() - signalled;
    console.log(`SIGTERM to exit, mid-chunk against a slow DynamoDB: ${Math.round(ms)} ms`);
    expect({ code: status.code, signal: status.signal }, busy.output()).toEqual({ code: 0, signal: null });
    expect(ms).toBeLessThan(3_000);

    proxy.slowAnswers(0);
    replicas.start();
    await waitFor(
      'the group to commit the end of koo.reactions',
      () => groupCaughtUp(kafka.admin, groupId, topics),
      {
        timeoutMs: 120_000,
        intervalMs: 1000,
      },
    );
    expect(await read.wrongCounters(koos, workload.expectedCounts())).toEqual([]);
  });
});
