import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { contentAttr as A, reactionAttr as R } from '../../schemas/koo-content.ts';
import { batchGet, batchWrite } from '../../shared/dynamodb/batch-writer.ts';
import { isConditionFailed, type Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { buildUpdate } from '../../shared/dynamodb/update-expression.ts';
import { KooError } from '../../shared/errors/koo-error.ts';
import {
  itemOf,
  pairKey,
  storedPairOf,
  type CounterUpdate,
  type ItemWrite,
  type StoredPair,
} from './decide.ts';

export interface ReactionTables {
  reactions: string;
  content: string;
}

/**
 * The reactions worker's DynamoDB adapter: reads fences and who-reacted items in batches, writes
 * items with BatchWriteItem, and moves a koo's counters and fence in one conditional update.
 * It decides nothing (decide.ts does).
 */
export class ReactionStore {
  readonly tables: ReactionTables;
  private readonly dynamo: Dynamo;
  private readonly concurrency: number;

  constructor(dynamo: Dynamo, tables: ReactionTables, concurrency: number) {
    this.dynamo = dynamo;
    this.tables = tables;
    this.concurrency = concurrency;
  }

  /** The counters' fence of each koo that has one. */
  async getFences(contentIds: readonly string[]): Promise<Map<string, number>> {
    const items = await batchGet(
      this.dynamo,
      this.tables.content,
      contentIds.map((id) => ({ [A.contentId]: id })),
      {
        keyAttributes: [A.contentId],
        concurrency: this.concurrency,
        projection: [A.contentId, A.reactionsOffset],
      },
    );
    const fences = new Map<string, number>();
    for (const item of items.values()) {
      if (typeof item[A.reactionsOffset] === 'number')
        fences.set(item[A.contentId] as string, item[A.reactionsOffset]);
    }
    return fences;
  }

  /** Stored who-reacted items of these (koo, user) pairs, keyed by pairKey. */
  async getPairs(pairs: readonly { contentId: string; userId: string }[]): Promise<Map<string, StoredPair>> {
    const items = await batchGet(
      this.dynamo,
      this.tables.reactions,
      pairs.map((p) => ({ [R.contentId]: p.contentId, [R.userId]: p.userId })),
      { keyAttributes: [R.contentId, R.userId], concurrency: this.concurrency },
    );
    const stored = new Map<string, StoredPair>();
    for (const item of items.values())
      stored.set(pairKey(item[R.contentId] as string, item[R.userId] as string), storedPairOf(item)!);
    return stored;
  }

  async writeItems(writes: readonly ItemWrite[], expiresAtSeconds: number): Promise<void> {
    await batchWrite(
      this.dynamo,
      this.tables.reactions,
      writes.map((w) => ({ put: itemOf(w, expiresAtSeconds) })),
      { keyAttributes: [R.contentId, R.userId], concurrency: this.concurrency },
    );
  }

  /**
   * Adds a batch's counter changes and moves the fence, only if the fence is still the one the
   * batch read: a second consumer of the partition (a rebalance, a member that lost its session)
   * cannot count the same events twice. A moved fence is a retriable error: the batch is read again.
   */
  async updateCounters(update: CounterUpdate): Promise<void> {
    const { delta } = update;
    const built = buildUpdate({
      set: { [A.reactionsOffset]: update.fence },
      add: Object.fromEntries(
        [
          [A.likes, delta.likes],
          [A.shares, delta.shares],
          [A.rekoos, delta.rekoos],
        ].filter(([, n]) => n !== 0),
      ),
    });
    const fenced = update.expectedFence === undefined;
    try {
      await this.dynamo.call('UpdateItem', (doc) =>
        doc.send(
          new UpdateCommand({
            TableName: this.tables.content,
            Key: { [A.contentId]: update.contentId },
            ...built,
            ConditionExpression: fenced ? 'attribute_not_exists(#ro)' : '#ro = :ro',
            ExpressionAttributeNames: { ...built.ExpressionAttributeNames, '#ro': A.reactionsOffset },
            ExpressionAttributeValues: {
              ...built.ExpressionAttributeValues,
              ...(fenced ? {} : { ':ro': update.expectedFence }),
            },
          }),
        ),
      );
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      throw new KooError(
        'SINK_UNAVAILABLE',
        `reaction counters of ${update.contentId} moved during the batch; reading again`,
        {
          retriable: true,
          cause: err,
          details: { contentId: update.contentId },
        },
      );
    }
  }
}
