import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import { tableName } from '../../schemas/tables.ts';
import { batchWrite, type Item } from '../../shared/dynamodb/batch-writer.ts';
import type { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { queryPages } from '../../shared/dynamodb/query.ts';
import type { NotificationQueueConfig } from './notify-config.ts';

/**
 * A job the sender finished, as Redis held it: enough to rebuild the notification state after
 * Redis lost it (its seal, the rate-limit count, the held set of its digest), so that a replay of
 * the log neither sends it again nor counts its actors twice.
 */
export interface LedgerEntry {
  jobId: string;
  recipient: string;
  /** `aggregate`: `view` is the job's seal; `digest`: the job merged the held jobs of `period`. */
  kind: 'aggregate' | 'digest';
  /** The seal (JSON, as the seal script wrote it); '' for a digest. */
  view: string;
  /** The digest's rate-limit period. */
  period?: number;
  finishedAtMs: number;
}

/** Hour buckets times shards: a restore reads every shard of each hour it covers. */
const LEDGER_SHARDS = 16;
const HOUR_MS = 3_600_000;

/**
 * The notification ledger in DynamoDB (`koo_notify_ledger`): one item per finished job, written
 * by the sender once the job is done, kept for `keepMs` (above the notify worker's rewind), and
 * the notification state's epoch, which tells a Redis that came back empty from a first start.
 * A namespace (`NOTIFY_PREFIX:NOTIFY_QUEUE`) keeps deployments and test runs apart.
 */
export class NotifyLedger {
  private readonly dynamo: Dynamo;
  private readonly table: string;
  private readonly namespace: string;
  private readonly keepMs: number;

  constructor(dynamo: Dynamo, table: string, namespace: string, keepMs: number) {
    this.dynamo = dynamo;
    this.table = table;
    this.namespace = namespace;
    this.keepMs = keepMs;
  }

  private bucket(hour: number, shard: number): string {
    return `${this.namespace}#${hour}#${shard}`;
  }

  /** The ledger item of a finished job (the sender writes it: workers/notify-sender/ledger-recorder.ts). */
  itemOf(entry: LedgerEntry): Item {
    const shard = createHash('sha1').update(entry.jobId).digest().readUInt16BE(0) % LEDGER_SHARDS;
    return {
      id: this.bucket(Math.floor(entry.finishedAtMs / HOUR_MS), shard),
      job: entry.jobId,
      r: entry.recipient,
      t: entry.kind,
      v: entry.view,
      ...(entry.period === undefined ? {} : { p: entry.period }),
      f: entry.finishedAtMs,
      ttl: Math.ceil((entry.finishedAtMs + this.keepMs) / 1000),
    };
  }

  /** Writes ledger items with BatchWriteItem (what DynamoDB leaves unprocessed is written again after a backoff). */
  write(items: readonly Item[]): Promise<void> {
    return batchWrite(
      this.dynamo,
      this.table,
      items.map((put) => ({ put })),
      { keyAttributes: ['id', 'job'] },
    );
  }

  /** Every job finished from `sinceMs` on, a page at a time (hour by hour, every shard). */
  async *finishedSince(sinceMs: number, nowMs: number): AsyncGenerator<LedgerEntry[]> {
    for (let hour = Math.floor(sinceMs / HOUR_MS); hour <= Math.floor(nowMs / HOUR_MS); hour++) {
      for (let shard = 0; shard < LEDGER_SHARDS; shard++) {
        const pages = queryPages(this.dynamo, {
          TableName: this.table,
          KeyConditionExpression: 'id = :id',
          ExpressionAttributeValues: { ':id': this.bucket(hour, shard) },
          ConsistentRead: true,
        });
        for await (const items of pages) {
          yield items
            .filter((item) => (item.f as number) >= sinceMs)
            .map((item) => ({
              jobId: item.job as string,
              recipient: item.r as string,
              kind: item.t as LedgerEntry['kind'],
              view: item.v as string,
              ...(item.p === undefined ? {} : { period: item.p as number }),
              finishedAtMs: item.f as number,
            }));
        }
      }
    }
  }

  /** The epoch the notification state was last given, or undefined before its first start. */
  async epoch(): Promise<string | undefined> {
    const out = await this.dynamo.call('GetItem', (doc) =>
      doc.send(
        new GetCommand({
          TableName: this.table,
          Key: { id: `${this.namespace}#epoch`, job: '-' },
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item?.e as string | undefined;
  }

  async setEpoch(epoch: string): Promise<void> {
    await this.dynamo.call('PutItem', (doc) =>
      doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { id: `${this.namespace}#epoch`, job: '-', e: epoch },
        }),
      ),
    );
  }
}

/** The ledger of a deployment's queue; entries outlive the longest restore (twice the rewind) by a day. */
export function notifyLedgerFor(
  dynamo: Dynamo,
  config: NotificationQueueConfig & { TABLE_PREFIX: string },
): NotifyLedger {
  return new NotifyLedger(
    dynamo,
    tableName('notifyLedger', config.TABLE_PREFIX),
    `${config.NOTIFY_PREFIX}:${config.NOTIFY_QUEUE}`,
    2 * config.NOTIFY_REWIND_MS + 86_400_000,
  );
}
