import { afterAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import { runId } from '../support/ids.ts';
import { groupCaughtUp } from '../support/kafka.ts';
import { reactionReadPath, reactionTestKafka, reactionWorkloadOf } from '../support/reactions.ts';
import { waitFor } from '../support/wait-for.ts';
import { workerReplicas, crashSessionTimeout } from '../support/workers.ts';

const REACTIONS = 50_000;
const KILLS = 4;
const groupId = `test-reactions-crash-${runId}`;
const topics = [topicNames.reactions];

describe('reactions worker, 2 replicas, one SIGKILLed and restarted mid-run', () => {
  const kafka = reactionTestKafka(groupId, topics);
  const read = reactionReadPath();
  const replicas = workerReplicas('reactions', {
    REACTIONS_GROUP_ID: groupId,
    BATCH_SIZE: '500',
    ...crashSessionTimeout,
  });
  const start = replicas.start;

  afterAll(async () => {
    replicas.killAll();
    read.dynamo.destroy();
  });

  it('ends with every koo at the exact counts of the produced log', async () => {
    const { koos, workload } = reactionWorkloadOf(3, 400, 2_000, 0.05);
    const counted = async () =>
      [...(await read.counters(koos)).values()].reduce((s, c) => s + c.likes + c.shares + c.rekoos, 0);

    let victim = start();
    start();
    const chunk = REACTIONS / (KILLS + 1);
    for (let round = 0; round <= KILLS; round++) {
      await Promise.all(workload.next(chunk).map((e) => kafka.producer.emit(e)));
      await kafka.producer.flush();
      if (round === KILLS) break;
      // Kill once the victim's group has counted something of this round, so the kill lands mid-stream.
      const before = await counted();
      await waitFor('some of the round to be counted', async () => (await counted()) > before, {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
      victim.child.kill('SIGKILL');
      await victim.exited;
      victim = start();
    }
    await Promise.all(workload.drain().map((e) => kafka.producer.emit(e))); // the redeliveries still due
    await kafka.producer.flush();

    await waitFor(
      'the group to commit the end of koo.reactions',
      () => groupCaughtUp(kafka.admin, groupId, topics),
      {
        timeoutMs: 180_000,
        intervalMs: 1000,
      },
    );
    const expected = workload.expectedCounts();
    expect(await read.wrongCounters(koos, expected)).toEqual([]);
    expect(expected.size).toBeGreaterThan(300);
  });
});
