import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { metrics } from '../metrics/metrics.ts';

/** DynamoDB's answer about what a request cost (ReturnConsumedCapacity=INDEXES), per table. */
export interface ConsumedCapacity {
  TableName?: string;
  CapacityUnits?: number;
  Table?: { CapacityUnits?: number };
  GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
  LocalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
}

export interface CapacityUse {
  table: string;
  /** '' for the table itself. */
  index: string;
  kind: 'read' | 'write';
  units: number;
}

const reads = new Set([
  'GetItemCommand',
  'BatchGetItemCommand',
  'QueryCommand',
  'ScanCommand',
  'TransactGetItemsCommand',
]);
const writes = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);

/** The capacity units of one answer, by table and index (a GSI's writes are what its projection costs). */
export function capacityUses(
  command: string,
  consumed: ConsumedCapacity | ConsumedCapacity[] | undefined,
): CapacityUse[] {
  const kind: CapacityUse['kind'] | undefined = reads.has(command)
    ? 'read'
    : writes.has(command)
      ? 'write'
      : undefined;
  if (!kind || !consumed) return [];
  return [consumed].flat().flatMap((c) => {
    const table = c.TableName ?? '?';
    const indexes = { ...c.GlobalSecondaryIndexes, ...c.LocalSecondaryIndexes };
    const perIndex = Object.entries(indexes).map(([index, v]) => ({
      table,
      index,
      kind,
      units: v.CapacityUnits ?? 0,
    }));
    // Without a breakdown (a server that reports only the total), the total is the table's.
    const own = c.Table?.CapacityUnits ?? (c.CapacityUnits ?? 0) - perIndex.reduce((s, u) => s + u.units, 0);
    return [{ table, index: '', kind, units: own }, ...perIndex].filter((u) => u.units > 0);
  });
}

/**
 * Asks every request for its consumed capacity with the per-index breakdown and counts it in
 * koo_dynamodb_capacity_units_total{table,index,kind}: what a worker costs on on-demand DynamoDB
 * (a write unit per KB written, per item and per GSI the item is projected into).
 */
export function countConsumedCapacity(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? '';
      const input = args.input as { ReturnConsumedCapacity?: string };
      if (reads.has(command) || writes.has(command)) input.ReturnConsumedCapacity ??= 'INDEXES';
      const result = await next(args);
      const output = result.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] };
      for (const u of capacityUses(command, output.ConsumedCapacity))
        metrics.dynamodbCapacityUnits.inc({ table: u.table, index: u.index, kind: u.kind }, u.units);
      return result;
    },
    { step: 'initialize', name: 'kooConsumedCapacity' },
  );
}
