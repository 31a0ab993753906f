import { QueryCommand, type QueryCommandInput, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { Item } from './batch-writer.ts';
import type { Dynamo } from './dynamo-client.ts';

/** One Query request through the shared client (counted, timed, retried). */
export function query(dynamo: Dynamo, input: QueryCommandInput): Promise<QueryCommandOutput> {
  return dynamo.call('Query', (doc) => doc.send(new QueryCommand(input)));
}

/** Every page of a Query from `input.ExclusiveStartKey` on, until DynamoDB has no more or the caller stops. */
export async function* queryPages(dynamo: Dynamo, input: QueryCommandInput): AsyncGenerator<Item[]> {
  let start = input.ExclusiveStartKey;
  do {
    const out = await query(dynamo, { ...input, ExclusiveStartKey: start });
    yield out.Items ?? [];
    start = out.LastEvaluatedKey;
  } while (start);
}

/**
 * Reads a Query page by page until `want` items were kept (`keep` maps an item to what the
 * caller wants, or undefined to pass it over, as a filter expression may leave a page short) or
 * the Query is exhausted. Each request asks only for what is still missing. `next` is the key to
 * continue from, absent when nothing is left.
 */
export async function queryUntil<T>(
  dynamo: Dynamo,
  input: QueryCommandInput,
  want: number,
  keep: (item: Item) => T | undefined,
): Promise<{ items: T[]; next?: Item }> {
  const items: T[] = [];
  let start = input.ExclusiveStartKey;
  do {
    const out = await query(dynamo, { ...input, Limit: want - items.length, ExclusiveStartKey: start });
    for (const item of out.Items ?? []) {
      const kept = keep(item);
      if (kept !== undefined) items.push(kept);
    }
    start = out.LastEvaluatedKey;
  } while (start && items.length < want);
  return { items, ...(start ? { next: start } : {}) };
}
