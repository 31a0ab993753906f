import { contentAttr as A, reactionAttr as R } from '../../schemas/koo-content.ts';
import { batchGet } from '../../shared/dynamodb/batch-writer.ts';
import { transactWrite, type TransactItem } from '../../shared/dynamodb/transact.ts';
import { buildUpdate } from '../../shared/dynamodb/update-expression.ts';
import { itemOf, pairKey, storedPairOf, type KooStep, type StoredPair } from './decide.ts';
import { DynamoStore } from '../../shared/dynamodb/dynamo-store.ts';

export interface ReactionTables {
  reactions: string;
  content: string;
}

/**
 * The reactions worker's DynamoDB adapter: reads fences and who-reacted items in batches, and
 * writes steps of koos (each its items, counters and fence) in fenced transactions.
 * It decides nothing (decide.ts does).
 */
export class ReactionStore extends DynamoStore<ReactionTables> {
  /** Whether DynamoDB answers (readiness), by recent answers or one probe of this table. */
  reachable(): Promise<boolean> {
    return this.dynamo.reachable(this.tables.content, { [A.contentId]: '__readyz__' });
  }

  /** The counters' fence of each koo that has one, and the partition it is of (absent on fences older than `rp`). */
  async getFences(
    contentIds: readonly string[],
  ): Promise<{ fences: Map<string, number>; partitions: Map<string, number> }> {
    const items = await batchGet(
      this.dynamo,
      this.tables.content,
      contentIds.map((id) => ({ [A.contentId]: id })),
      {
        keyAttributes: [A.contentId],
        concurrency: this.concurrency,
        projection: [A.contentId, A.reactionsOffset, A.reactionsPartition],
      },
    );
    const fences = new Map<string, number>();
    const partitions = new Map<string, number>();
    for (const item of items.values()) {
      const id = item[A.contentId] as string;
      if (typeof item[A.reactionsOffset] === 'number') fences.set(id, item[A.reactionsOffset]);
      if (typeof item[A.reactionsPartition] === 'number') partitions.set(id, item[A.reactionsPartition]);
    }
    return { fences, partitions };
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

  /**
   * Writes steps of different koos in one transaction: per step its items, its counter changes
   * and its fence, each koo's update only if its fence is still the one the batch read, so a
   * second writer of the partition (a member that lost its session, a backfill) can neither count
   * the same events twice nor overwrite the items the counters were moved by. A moved fence
   * cancels the whole transaction: a retriable error, and the batch is read again.
   * `partition`: the koo.reactions partition of the steps' events, stored beside each fence.
   */
  async applySteps(steps: readonly KooStep[], partition: number, expiresAtSeconds: number): Promise<void> {
    await transactWrite(
      this.dynamo,
      steps.flatMap((step) => this.stepActions(step, partition, expiresAtSeconds)),
      steps.length === 1 ? `reactions of ${steps[0]!.contentId}` : `reactions of ${steps.length} koos`,
    );
  }

  private stepActions(step: KooStep, partition: number, expiresAtSeconds: number): TransactItem[] {
    const { delta } = step;
    const built = buildUpdate({
      set: { [A.reactionsOffset]: step.fence, [A.reactionsPartition]: partition },
      add: Object.fromEntries(
        [
          [A.likes, delta.likes],
          [A.shares, delta.shares],
          [A.rekoos, delta.rekoos],
        ].filter(([, n]) => n !== 0),
      ),
    });
    const fenced = step.expectedFence === undefined;
    return [
      ...step.items.map((w) => ({
        Put: { TableName: this.tables.reactions, Item: itemOf(w, expiresAtSeconds) },
      })),
      {
        Update: {
          TableName: this.tables.content,
          Key: { [A.contentId]: step.contentId },
          ...built,
          ConditionExpression: fenced ? 'attribute_not_exists(#ro)' : '#ro = :ro',
          ExpressionAttributeNames: { ...built.ExpressionAttributeNames, '#ro': A.reactionsOffset },
          ExpressionAttributeValues: {
            ...built.ExpressionAttributeValues,
            ...(fenced ? {} : { ':ro': step.expectedFence }),
          },
        },
      },
    ];
  }
}
