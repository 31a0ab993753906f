import { afterAll, describe, expect, it } from 'vitest';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import { reactionContract, type Reaction } from '../../schemas/reaction.ts';
import { createSchemaRegistry } from '../../shared/avro/schema-registry-client.ts';
import { RegistryCodec } from '../../shared/avro/registry-codec.ts';
import { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { isRetriable } from '../../shared/errors/koo-error.ts';
import { ReactionStore } from '../../workers/reactions/reaction-store.ts';
import { ReactionsWorker, loadReactionsConfig } from '../../workers/reactions/reactions-worker.ts';
import { rawRecord } from '../support/cdc-events.ts';
import { newId, runId } from '../support/ids.ts';
import { reactionReadPath } from '../support/reactions.ts';
import { stackEnv } from '../support/stack-env.ts';
import { waitFor } from '../support/wait-for.ts';
import { handlerContext } from '../support/workers.ts';

const ctx = handlerContext();

const readOperations = new Set(['GetItem', 'BatchGetItem', 'Query']);

/** A DynamoDB client whose writes wait while `hold` is set: a member that stalls between its reads and its writes. */
class StallingDynamo extends Dynamo {
  hold: Promise<void> | undefined;
  stalled = 0;

  override async call<T>(operation: string, request: Parameters<Dynamo['call']>[1]): Promise<T> {
    if (this.hold && !readOperations.has(operation)) {
      this.stalled++;
      await this.hold;
    }
    return super.call(operation, request) as Promise<T>;
  }
}

/**
 * Two members of the reactions group driven by hand through a takeover (issue 13, item 2),
 * against the stack's DynamoDB: a member evicted mid-batch keeps running, and its late writes
 * must not change what the counters say.
 */
describe('reactions worker against a second writer of its partition, and a foreign partitioner', () => {
  const read = reactionReadPath();
  const clients: Dynamo[] = [];
  const member = (dynamo: Dynamo) => {
    clients.push(dynamo);
    const config = loadReactionsConfig(process.env);
    const store = new ReactionStore(
      dynamo,
      { reactions: tableName('reactions'), content: tableName('content') },
      config.SINK_CONCURRENCY,
    );
    const codec = new RegistryCodec(createSchemaRegistry(stackEnv.schemaRegistryUrl), reactionContract);
    return new ReactionsWorker({ codec, store, config });
  };
  const options = { region: stackEnv.awsRegion, endpoint: stackEnv.dynamodbEndpoint, retryMaxMs: 5_000 };

  afterAll(() => {
    for (const client of [...clients, read.dynamo]) client.destroy();
  });

  it("a zombie's late batch neither overwrites the new owner's items nor makes a reaction count twice", async () => {
    const koo = newId();
    const user = newId();
    const T0 = Date.UTC(2026, 0, 1);
    const event = (offset: number, type: Reaction['type'], eventId = `${type}-${offset}`) => ({
      raw: { ...rawRecord(topicNames.reactions, null, offset), key: Buffer.from(koo) },
      value: {
        event_id: `${eventId}-${runId}`,
        type,
        content_id: koo,
        user_id: user,
        event_time: T0 + offset * 100,
      },
    });
    const zombieDynamo = new StallingDynamo(options);
    const zombie = member(zombieDynamo);
    const owner = member(new Dynamo(options));

    // The zombie reads for its batch [like], then stalls before writing (evicted meanwhile).
    let resume!: () => void;
    zombieDynamo.hold = new Promise((r) => (resume = r));
    const late = zombie.handle([event(1, 'like')], ctx).then(
      () => undefined,
      (error: unknown) => error,
    );
    await waitFor('the zombie to stall at its first write', () => zombieDynamo.stalled > 0);
    // The new owner takes the partition from the same committed offset and fetches more.
    await owner.handle([event(1, 'like'), event(2, 'share')], ctx);
    zombieDynamo.hold = undefined;
    resume();
    const failure = await late;
    expect(failure === undefined || isRetriable(failure)).toBe(true);
    await zombie.handle([event(1, 'like')], ctx); // the runtime's retry of the zombie's batch

    // The owner goes on: the user takes the like back, and the app retries the share.
    await owner.handle([event(3, 'unlike')], ctx);
    await owner.handle([event(4, 'share', 'share-retry')], ctx);
    expect(await read.queries.counts(koo)).toEqual({ likes: 0, shares: 1, rekoos: 0 });
    expect(await read.queries.reactionOf(koo, user)).toMatchObject({ liked: false, shared: true });
  });

  it("dead-letters a reaction that comes in another partition than its koo's counted ones", async () => {
    const koo = newId();
    const w = member(new Dynamo(options));
    const like = (offset: number, partition: number, user: string) => {
      const raw = { ...rawRecord(topicNames.reactions, null, offset), partition, key: Buffer.from(koo) };
      const value: Reaction = {
        event_id: `p${partition}-${offset}-${runId}`,
        type: 'like',
        content_id: koo,
        user_id: user,
        event_time: Date.UTC(2026, 0, 1) + offset,
      };
      return { raw, value };
    };
    expect(await w.handle([like(40, 2, 'u1'), like(41, 2, 'u2')], ctx)).toEqual([]);
    // A producer that partitions by another hash: its offsets mean nothing against partition 2's fence.
    const foreign = like(7, 5, 'u3');
    const rejected = await w.handle([foreign, like(90, 5, 'u4')], ctx);
    expect(rejected.map((r) => r.record.raw.offset)).toEqual(['7', '90']);
    expect(String(rejected[0]!.error)).toMatch(
      new RegExp(`reactions of koo ${koo} are counted in partition 2, this one came in partition 5`),
    );
    expect(await read.queries.counts(koo)).toEqual({ likes: 2, shares: 0, rekoos: 0 });
  });
});
