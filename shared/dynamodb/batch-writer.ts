import { BatchWriteCommand, BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { KooError } from '../errors/koo-error.ts';
import { metrics } from '../metrics/metrics.ts';
import { mapConcurrent } from '../runtime/backoff.ts';
import { stopSignal } from '../runtime/process-shutdown.ts';
import { Retries } from '../runtime/retry.ts';
import type { Dynamo } from './dynamo-client.ts';
import { projectionOf } from './update-expression.ts';

export type Item = Record<string, NativeAttributeValue>;
export type WriteRequest = { put: Item } | { delete: Item };

export interface BatchOptions {
  /** Attribute names of the table's primary key (partition key, then sort key if any). */
  keyAttributes: readonly string[];
  concurrency?: number;
}

const WRITE_LIMIT = 25; // BatchWriteItem's limit per request
const GET_LIMIT = 100; // BatchGetItem's limit per request

function keyString(item: Item, keyAttributes: readonly string[]): string {
  return keyAttributes.map((k) => String(item[k])).join('\u0000');
}

/**
 * Sends `first` and then whatever DynamoDB left unprocessed (throttled keys of a batch request),
 * with the client's retry policy (SINK_RETRY_MAX_MS), until nothing is left; past the budget the
 * batch fails retriably, and stopped work (shutdown, rebalance) ends the waits (the next call then
 * refuses to start).
 */
async function untilProcessed<T>(
  dynamo: Dynamo,
  operation: 'BatchWriteItem' | 'BatchGetItem',
  table: string,
  first: T[],
  send: (pending: T[]) => Promise<T[]>,
): Promise<void> {
  const signal = stopSignal();
  const retries = new Retries(dynamo.retryPolicy, signal);
  for (let pending = first; ;) {
    pending = await send(pending);
    if (pending.length === 0) return;
    metrics.dynamodbThrottles.inc({ operation }, pending.length);
    if (!(await retries.wait()) && !signal.aborted) {
      throw new KooError(
        'SINK_THROTTLED',
        `${pending.length} requests of a ${operation} on ${table} stayed unprocessed`,
        { retriable: true },
      );
    }
  }
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Writes puts and deletes with BatchWriteItem, 25 to a request, several requests in flight.
 * Requests for the same key are coalesced (the last wins: DynamoDB refuses a batch naming a key
 * twice), and UnprocessedItems are sent again with capped exponential backoff and jitter until
 * every item is written or the retry budget ends.
 * Use it for idempotent, unconditional writes; fenced writes go through conditional updates.
 */
export async function batchWrite(
  dynamo: Dynamo,
  table: string,
  requests: readonly WriteRequest[],
  options: BatchOptions,
): Promise<void> {
  const latest = new Map<string, WriteRequest>();
  for (const r of requests) {
    const item = 'put' in r ? r.put : r.delete;
    latest.set(keyString(item, options.keyAttributes), r);
  }
  const wire = [...latest.values()].map((r) =>
    'put' in r ? { PutRequest: { Item: r.put } } : { DeleteRequest: { Key: r.delete } },
  );
  await mapConcurrent(chunk(wire, WRITE_LIMIT), options.concurrency ?? 8, (batch) =>
    untilProcessed(dynamo, 'BatchWriteItem', table, batch, async (pending) => {
      const out = await dynamo.call('BatchWriteItem', (doc) =>
        doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } })),
      );
      return (out.UnprocessedItems?.[table] ?? []) as typeof pending;
    }),
  );
}

type GetOptions = BatchOptions & { consistent?: boolean; projection?: string[] };

/** Keys asked for in this turn of the event loop, per table and read options, and the read that will serve them. */
interface SharedRead {
  keys: Map<string, Item>;
  found: Promise<Map<string, Item>>;
}

const sharedReads = new WeakMap<Dynamo, Map<string, SharedRead>>();

/**
 * Reads items by key with BatchGetItem, 100 keys to a request, strongly consistent by default,
 * retrying UnprocessedKeys with backoff. Returns the items found, keyed by their key string.
 * Reads of the same table and options asked for in the same turn of the event loop (the
 * partitions of one fetch, handled side by side) share their requests: a batch of a few events
 * per partition at live rates then costs one read, not one per partition. Nothing waits past
 * the turn it was asked in; a failed request fails each read it served (each batch retries).
 */
export function batchGet(
  dynamo: Dynamo,
  table: string,
  keys: readonly Item[],
  options: GetOptions,
): Promise<Map<string, Item>> {
  const group = JSON.stringify([
    table,
    options.keyAttributes,
    options.consistent ?? true,
    options.projection,
  ]);
  let reads = sharedReads.get(dynamo);
  if (!reads) sharedReads.set(dynamo, (reads = new Map()));
  let read = reads.get(group);
  if (!read) {
    const keysOfRead = new Map<string, Item>();
    const startedReads = reads;
    read = {
      keys: keysOfRead,
      found: new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        startedReads.delete(group);
        return readKeys(dynamo, table, [...keysOfRead.values()], options);
      }),
    };
    reads.set(group, read);
  }
  const mine = new Map<string, Item>();
  for (const k of keys) mine.set(keyString(k, options.keyAttributes), k);
  for (const [id, k] of mine) read.keys.set(id, k);
  return read.found.then((found) => {
    const out = new Map<string, Item>();
    for (const id of mine.keys()) {
      const item = found.get(id);
      if (item) out.set(id, item);
    }
    return out;
  });
}

async function readKeys(
  dynamo: Dynamo,
  table: string,
  keys: readonly Item[],
  options: GetOptions,
): Promise<Map<string, Item>> {
  const found = new Map<string, Item>();
  const projection = options.projection ? projectionOf(options.projection) : {};
  await mapConcurrent(chunk(keys, GET_LIMIT), options.concurrency ?? 8, (batch) =>
    untilProcessed(dynamo, 'BatchGetItem', table, batch, async (pending) => {
      const out = await dynamo.call('BatchGetItem', (doc) =>
        doc.send(
          new BatchGetCommand({
            RequestItems: {
              [table]: { Keys: pending, ConsistentRead: options.consistent ?? true, ...projection },
            },
          }),
        ),
      );
      for (const item of out.Responses?.[table] ?? [])
        found.set(keyString(item, options.keyAttributes), item);
      return (out.UnprocessedKeys?.[table]?.Keys ?? []) as Item[];
    }),
  );
  return found;
}

export { keyString };
