import { afterAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { KooError } from '../../shared/errors/koo-error.ts';
import { ContentStore, contentTables } from '../../workers/content/content-store.ts';
import { ContentWorker, loadContentConfig } from '../../workers/content/content-worker.ts';
import { ContentQueries } from '../../workers/content/queries.ts';
import { testBodyStore } from '../support/content.ts';
import { envelope, kooRow, rawRecord, userRow } from '../support/cdc-events.ts';
import { newId } from '../support/ids.ts';
import { stackEnv } from '../support/stack-env.ts';
import { handlerContext } from '../support/workers.ts';

const ctx = handlerContext();
const tables = contentTables('');
const options = { region: stackEnv.awsRegion, endpoint: stackEnv.dynamodbEndpoint, retryMaxMs: 5_000 };

/** A DynamoDB client that dies (as a SIGKILLed process would stop) after `updatesLeft` more UpdateItems. */
class DyingDynamo extends Dynamo {
  updatesLeft = Infinity;

  override async call<T>(operation: string, request: Parameters<Dynamo['call']>[1]): Promise<T> {
    if (operation === 'UpdateItem' && this.updatesLeft-- <= 0)
      throw new KooError('SHUTTING_DOWN', 'the process is gone', { retriable: true });
    return super.call(operation, request) as Promise<T>;
  }
}

/** The content worker driven by hand through an interrupted rename (issue 13, item 3), against the stack's DynamoDB. */
describe('content worker: a rename whose propagation was cut off', () => {
  const clients: Dynamo[] = [];
  const queries = new ContentQueries(new Dynamo(options), {
    contentTable: tables.content,
    mediaBucket: 'koo-media',
    bodies: testBodyStore(),
  });
  const worker = (dynamo: Dynamo) => {
    clients.push(dynamo);
    const config = loadContentConfig(process.env);
    return new ContentWorker({
      store: new ContentStore(dynamo, tables, config.SINK_CONCURRENCY),
      bodies: testBodyStore(),
      config,
    });
  };
  afterAll(() => {
    for (const c of clients) c.destroy();
  });

  it('resumes when redelivered in a batch that also holds a later edit of the user', async () => {
    const user = newId();
    const koos = Array.from({ length: 10 }, newId);
    const first = worker(new Dynamo(options));
    const decode = (w: ContentWorker, topic: string, value: object, offset: number) => {
      const raw = rawRecord(topic, value, offset);
      return { raw, value: w.decode(raw)! };
    };
    const userChange = (w: ContentWorker, lsn: number, before: object | null, after: object) =>
      decode(w, topicNames.users, envelope('users', before ? 'u' : 'c', before, after, lsn), lsn);
    const v1 = userRow(user, { handle: 'old_handle' });
    const v2 = { ...v1, handle: 'new_handle' };
    const v3 = { ...v2, display_name: 'A new name' };
    await first.handle(
      [
        userChange(first, 10, null, v1),
        ...koos.map((id, i) =>
          decode(
            first,
            topicNames.koos,
            envelope('koos', 'c', null, kooRow(id, { creator_id: user }), 20 + i),
            i,
          ),
        ),
      ],
      ctx,
    );
    for (const id of koos) expect((await queries.getKoo(id))?.creatorHandle).toBe('old_handle');

    // The rename is written, and the process dies three koos into its propagation.
    const dying = new DyingDynamo(options);
    const killed = worker(dying);
    dying.updatesLeft = 4;
    await expect(killed.handle([userChange(killed, 100, v1, v2)], ctx)).rejects.toThrow(
      'the process is gone',
    );

    // Its next owner fetches the rename again, with the user's next edit behind it.
    const next = worker(new Dynamo(options));
    await next.handle([userChange(next, 100, v1, v2), userChange(next, 120, v2, v3)], ctx);
    const handles = await Promise.all(koos.map(async (id) => (await queries.getKoo(id))?.creatorHandle));
    expect(handles).toEqual(koos.map(() => 'new_handle'));
  });
});
