import { afterAll, describe, expect, it } from 'vitest';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import type { Reaction, ReactionType } from '../../schemas/reaction.ts';
import { batchGet } from '../../shared/dynamodb/batch-writer.ts';
import { Random } from '../../apps/synthetic/random.ts';
import { contribution, scoreAt } from '../../workers/engagement/decay.ts';
import { foldReaction, stateTerms } from '../../workers/engagement/decide.ts';
import { noReaction } from '../../workers/reactions/decide.ts';
import { decaySettingsOf, weightsOf } from '../../workers/engagement/engagement-worker.ts';
import { engagementReadPath, engagementTestEnv } from '../support/engagement.ts';
import { groupCaughtUp } from '../support/kafka.ts';
import { waitFor } from '../support/wait-for.ts';
import { workerReplicas } from '../support/workers.ts';
import { reactionTestKafka } from '../support/reactions.ts';

const KOOS = 150;
const REACTIONS = 3000;
const topics = [topicNames.reactions, topicNames.koos];
const env: Record<string, string> = { ...engagementTestEnv('engagement-crash'), BATCH_SIZE: '100' };
const groupId = env.ENGAGEMENT_GROUP_ID!;

describe('engagement worker, 2 replicas, one SIGKILLed mid-stream', () => {
  const read = engagementReadPath(env);
  const decay = decaySettingsOf(read.config);
  const weights = weightsOf(read.config);
  const kafka = reactionTestKafka(groupId, topics);
  const replicas = workerReplicas('engagement', env);
  const start = replicas.start;

  afterAll(async () => {
    replicas.killAll();
    await read.flushRedis();
    read.close();
  });

  it('adds every reaction exactly once', async () => {
    const random = new Random(Date.now());
    const ids = Array.from({ length: KOOS }, () => random.id());
    const T0 = Date.now();
    const types: [ReactionType, number][] = [
      ['like', 6],
      ['unlike', 1],
      ['share', 2],
      ['rekoo', 2],
    ];
    const produced: Reaction[] = [];
    const produceRange = async (n: number) => {
      for (let i = 0; i < n; i += 250) {
        const chunk = Array.from({ length: Math.min(250, n - i) }, () =>
          kafka.producer.emit({
            content_id: random.pick(ids),
            user_id: random.id(),
            type: random.weighted(types),
            event_time: T0 - random.int(3 * 3_600_000),
          }),
        );
        produced.push(...(await Promise.all(chunk)));
      }
    };

    const victim = start();
    start();
    await produceRange(REACTIONS / 2);
    await waitFor('some scores to be written', async () => {
      const items = await batchGet(
        read.dynamo,
        tableName('content'),
        ids.map((id) => ({ id })),
        { keyAttributes: ['id'] },
      );
      return [...items.values()].some((i) => i.es !== undefined);
    });
    victim.child.kill('SIGKILL');
    await victim.exited;
    start(); // the replacement, as ops would run it
    await produceRange(REACTIONS / 2);
    await waitFor(
      'the group to commit the end of the topics',
      () => groupCaughtUp(kafka.admin, groupId, topics),
      {
        timeoutMs: 150_000,
        intervalMs: 1000,
      },
    );

    // Each reaction is of another user: it weighs its kind, and an unlike takes back nothing.
    const expected = new Map<string, { sum: number; magnitude: number }>();
    for (const r of produced) {
      const state = foldReaction(noReaction, { kind: r.type, timeMs: r.event_time }, 0);
      const c = stateTerms(state, weights).reduce(
        (sum, t) => sum + contribution(t.weight, t.timeMs, T0, decay),
        0,
      );
      const e = expected.get(r.content_id) ?? { sum: 0, magnitude: 0 };
      expected.set(r.content_id, { sum: e.sum + c, magnitude: e.magnitude + Math.abs(c) });
    }
    const items = await batchGet(
      read.dynamo,
      tableName('content'),
      [...expected.keys()].map((id) => ({ id })),
      { keyAttributes: ['id'] },
    );
    for (const [id, { sum, magnitude }] of expected) {
      const item = items.get(id)!;
      const score = scoreAt(item.es as number, item.lm as number, T0, decay);
      expect(Math.abs(score - sum)).toBeLessThanOrEqual(1e-9 * magnitude);
    }
  });
});
