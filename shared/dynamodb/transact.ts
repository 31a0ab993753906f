import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { KooError } from '../errors/koo-error.ts';
import type { Dynamo } from './dynamo-client.ts';

/** The actions of one TransactWriteItems request (Put, Update, Delete, ConditionCheck), as lib-dynamodb takes them. */
export type TransactItem = Record<string, unknown>;

/** DynamoDB's limit on the actions of one transaction. */
export const MAX_TRANSACT_ITEMS = 100;

// Cancellation reasons that reading again and recomputing can get past (another writer moved a version).
const transientCancellations = new Set([
  'None',
  'ConditionalCheckFailed',
  'TransactionConflict',
  'ThrottlingError',
]);

/**
 * Writes `items` all or none. A transaction cancelled because a condition no longer holds (a
 * second writer of the partition, a redelivery racing itself) is a retriable KooError: the caller's
 * batch is read and decided again. Any other cancellation (too large, invalid) is SINK_REJECTED.
 */
export async function transactWrite(
  dynamo: Dynamo,
  items: readonly TransactItem[],
  what: string,
): Promise<void> {
  try {
    await dynamo.call('TransactWriteItems', (doc) =>
      doc.send(new TransactWriteCommand({ TransactItems: items as never })),
    );
  } catch (err) {
    const codes = cancellationCodes(err);
    if (!codes) throw err;
    const transient = codes.every((c) => transientCancellations.has(c));
    throw new KooError(
      transient ? 'SINK_UNAVAILABLE' : 'SINK_REJECTED',
      transient
        ? `${what}: transaction cancelled (${codes.filter((c) => c !== 'None').join(', ')}): stored versions moved; reading again`
        : `${what}: transaction refused: ${codes.join(', ')}`,
      { retriable: transient, cause: err },
    );
  }
}

/** The reason codes of a cancelled transaction, one per action ('None' for one that was not the cause). */
function cancellationCodes(err: unknown): string[] | undefined {
  const reasons = (err as { CancellationReasons?: { Code?: string }[] } | undefined)?.CancellationReasons;
  return reasons?.map((r) => r.Code ?? 'None');
}

/**
 * Writes `items` all or none, if their conditions hold: false when the transaction was cancelled
 * only because a condition does not (as `Dynamo.updateIf` answers for one item). Any other
 * cancellation throws as in transactWrite.
 */
export async function transactWriteIf(
  dynamo: Dynamo,
  items: readonly TransactItem[],
  what: string,
): Promise<boolean> {
  try {
    await transactWrite(dynamo, items, what);
    return true;
  } catch (err) {
    const codes = err instanceof KooError ? cancellationCodes(err.cause) : undefined;
    if (
      codes?.includes('ConditionalCheckFailed') &&
      codes.every((c) => c === 'None' || c === 'ConditionalCheckFailed')
    )
      return false;
    throw err;
  }
}

/**
 * Packs chains of units into rounds of transactions of at most `maxActions` actions, so that many
 * small units share one request. A chain is one key's units in the order they must commit (each
 * may expect what the one before wrote); round i holds the i-th unit of every chain that has one,
 * so a key's units commit in order, one round after the other. `actionsOf` must not pass
 * `maxActions` for one unit. A transaction is all or nothing: a unit whose condition fails
 * cancels the others of its transaction, and the caller reads and decides again, as for one.
 */
export function packTransactions<U>(
  chains: readonly (readonly U[])[],
  actionsOf: (unit: U) => number,
  maxActions = MAX_TRANSACT_ITEMS,
): U[][][] {
  const rounds: U[][][] = [];
  for (let live = chains.filter((c) => c.length > 0), i = 0; live.length > 0; i++) {
    const round: U[][] = [];
    let transaction: U[] = [];
    let actions = 0;
    for (const chain of live) {
      const unit = chain[i]!;
      const size = actionsOf(unit);
      if (transaction.length > 0 && actions + size > maxActions) {
        round.push(transaction);
        transaction = [];
        actions = 0;
      }
      transaction.push(unit);
      actions += size;
    }
    round.push(transaction);
    rounds.push(round);
    live = live.filter((c) => c.length > i + 1);
  }
  return rounds;
}
