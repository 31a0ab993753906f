import { describe, expect, it } from 'vitest';
import { batchGet, batchWrite, type Item } from '../../shared/dynamodb/batch-writer.ts';
import type { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { sinkRetryPolicy } from '../../shared/runtime/retry.ts';

// The local DynamoDB never returns UnprocessedItems/Keys, so the retry paths are held here with a
// client whose answers are scripted: each call records what was sent and gets the next answer.
function scripted(answers: object[], retryBudgetMs = 30_000) {
  const sent: { RequestItems: Record<string, unknown> }[] = [];
  const dynamo = {
    retryPolicy: sinkRetryPolicy(retryBudgetMs),
    call: async (_op: string, request: (doc: unknown) => Promise<unknown>) =>
      request({
        send: async (command: { input: { RequestItems: Record<string, unknown> } }) => {
          sent.push(command.input);
          return answers.shift() ?? {};
        },
      }),
  } as unknown as Dynamo;
  return { dynamo, sent };
}

const table = 't';
const key = { keyAttributes: ['id'] };

describe('batchWrite', () => {
  it('sends 25 items a request, the last write of a key only', async () => {
    const { dynamo, sent } = scripted([]);
    const puts = Array.from({ length: 30 }, (_, i) => ({ put: { id: `k${i}`, v: 1 } }));
    await batchWrite(dynamo, table, [...puts, { put: { id: 'k0', v: 2 } }], { ...key, concurrency: 1 });
    const batches = sent.map((s) => s.RequestItems[table] as { PutRequest: { Item: Item } }[]);
    expect(batches.map((b) => b.length)).toEqual([25, 5]);
    expect(batches.flat().find((r) => r.PutRequest.Item.id === 'k0')!.PutRequest.Item.v).toBe(2);
  });

  it('sends UnprocessedItems again until none are left', async () => {
    const left = [{ PutRequest: { Item: { id: 'k1' } } }];
    const { dynamo, sent } = scripted([{ UnprocessedItems: { [table]: left } }, {}]);
    await batchWrite(dynamo, table, [{ put: { id: 'k0' } }, { put: { id: 'k1' } }], key);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.RequestItems[table]).toEqual(left);
  });

  it('fails retriably when items stay unprocessed past the retry budget', async () => {
    const left = { UnprocessedItems: { [table]: [{ PutRequest: { Item: { id: 'k0' } } }] } };
    const { dynamo } = scripted(
      Array.from({ length: 1000 }, () => left),
      0,
    );
    const err = await batchWrite(dynamo, table, [{ put: { id: 'k0' } }], key).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SINK_THROTTLED', retriable: true });
  });
});

describe('batchGet', () => {
  it('asks again for UnprocessedKeys and returns every item found', async () => {
    const { dynamo, sent } = scripted([
      { Responses: { [table]: [{ id: 'a', v: 1 }] }, UnprocessedKeys: { [table]: { Keys: [{ id: 'b' }] } } },
      { Responses: { [table]: [{ id: 'b', v: 2 }] } },
    ]);
    const found = await batchGet(dynamo, table, [{ id: 'a' }, { id: 'b' }, { id: 'a' }], key);
    expect([...found.values()]).toEqual([
      { id: 'a', v: 1 },
      { id: 'b', v: 2 },
    ]);
    expect((sent[1]!.RequestItems[table] as { Keys: Item[] }).Keys).toEqual([{ id: 'b' }]);
  });

  it('serves reads of the same table made in the same turn (partitions handled side by side) with one request', async () => {
    const { dynamo, sent } = scripted([
      {
        Responses: {
          [table]: [
            { id: 'a', v: 1 },
            { id: 'b', v: 2 },
            { id: 'c', v: 3 },
          ],
        },
      },
      { Responses: { [table]: [{ id: 'd', v: 4 }] } },
    ]);
    const [first, second] = await Promise.all([
      batchGet(dynamo, table, [{ id: 'a' }, { id: 'b' }], key),
      batchGet(dynamo, table, [{ id: 'b' }, { id: 'c' }, { id: 'x' }], key),
    ]);
    expect([...first.values()]).toEqual([
      { id: 'a', v: 1 },
      { id: 'b', v: 2 },
    ]);
    expect([...second.values()]).toEqual([
      { id: 'b', v: 2 },
      { id: 'c', v: 3 },
    ]);
    expect(sent.map((s) => (s.RequestItems[table] as { Keys: Item[] }).Keys.length)).toEqual([4]);
    // A later read is a request of its own (nothing is held past the turn it was asked in).
    expect([...(await batchGet(dynamo, table, [{ id: 'd' }], key)).values()]).toEqual([{ id: 'd', v: 4 }]);
    expect(sent).toHaveLength(2);
  });

  it('fails every read it served when the shared request fails', async () => {
    const dynamo = {
      call: async () => {
        throw new Error('connection reset');
      },
    } as unknown as Dynamo;
    const reads = [batchGet(dynamo, table, [{ id: 'a' }], key), batchGet(dynamo, table, [{ id: 'b' }], key)];
    for (const read of reads) await expect(read).rejects.toThrow('connection reset');
  });
});
