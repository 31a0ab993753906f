import { Queue } from 'bullmq';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { Admin } from 'kafkajs';
import { groupIdOf, type CatalogEntry } from '../../workers/catalog.ts';
import type { NotificationQueueConfig } from '../../workers/notify/notify-config.ts';
import { errorMessage } from '../../shared/errors/koo-error.ts';
import { consumerGroupLag } from '../../shared/kafka/consumer-lag.ts';
import { describeGroups } from './kafka-ops.ts';
import {
  dlqDepth,
  type GroupStatus,
  type QueueStatus,
  type SlotStatus,
  type StatusReport,
} from './status-report.ts';

const jobStates = ['waiting', 'prioritized', 'delayed', 'active', 'failed', 'completed'] as const;

/** The notification queue's job counts, read over a connection that fails fast instead of waiting for Redis. */
export interface NotificationQueueProbe {
  status(): Promise<QueueStatus>;
  close(): Promise<void>;
}

export function notificationQueueProbe(
  redisUrl: string,
  config: NotificationQueueConfig,
  timeoutMs = 5_000,
): NotificationQueueProbe {
  // Unlike the workers' connection (which waits out a Redis restart), a status read gives up so
  // that Kafka's half of the report still prints.
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: timeoutMs });
  redis.on('error', () => undefined); // reported through the failed request instead
  const queue = new Queue(config.NOTIFY_QUEUE, { connection: redis, prefix: config.NOTIFY_PREFIX });
  return {
    async status() {
      let timer: NodeJS.Timeout | undefined;
      try {
        const counts = await Promise.race([
          queue.getJobCounts(...jobStates),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer from Redis in ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return { queue: config.NOTIFY_QUEUE, counts };
      } catch (err) {
        return { queue: config.NOTIFY_QUEUE, error: errorMessage(err) };
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await queue.close().catch(() => undefined);
      redis.disconnect();
    },
  };
}

/** How much WAL the source database keeps for Debezium's slot; gives up after `timeoutMs` so the rest of the report prints. */
export async function replicationSlotStatus(
  dbUrl: string,
  slot: string,
  timeoutMs = 5_000,
): Promise<SlotStatus> {
  const db = new pg.Client({
    connectionString: dbUrl,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  try {
    await db.connect();
    const { rows } = await db.query<{ active: boolean; retained: string | null }>(
      'select active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text as retained from pg_replication_slots where slot_name = $1',
      [slot],
    );
    const row = rows[0];
    if (!row || row.retained === null) return { slot, error: 'no such logical slot on the source database' };
    return { slot, active: row.active, retainedWalBytes: BigInt(row.retained.split('.')[0]!) };
  } catch (err) {
    return { slot, error: errorMessage(err) };
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** Membership and lag of every consumer group of the catalog, under the group ids `environment` gives. */
export async function groupStatuses(
  admin: Admin,
  entries: readonly CatalogEntry[],
  environment: NodeJS.ProcessEnv,
): Promise<GroupStatus[]> {
  const consumers = entries.flatMap((e) =>
    e.group ? [{ worker: e.name, groupId: groupIdOf(e, environment)!, topics: e.group.topics }] : [],
  );
  const memberships = await describeGroups(
    admin,
    consumers.map((c) => c.groupId),
  );
  return Promise.all(
    consumers.map(async (c, i) => ({
      worker: c.worker,
      groupId: c.groupId,
      state: memberships[i]!.state,
      members: memberships[i]!.members,
      partitions: (await consumerGroupLag(admin, c.groupId, c.topics)).sort(
        (a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition,
      ),
    })),
  );
}

export async function collectStatus(options: {
  admin: Admin;
  entries: readonly CatalogEntry[];
  environment: NodeJS.ProcessEnv;
  dlqTopic: string;
  queue: NotificationQueueProbe;
  source: { dbUrl: string; slot: string };
}): Promise<StatusReport> {
  const { admin } = options;
  const [groups, dlqOffsets, notifications, replicationSlot] = await Promise.all([
    groupStatuses(admin, options.entries, options.environment),
    admin.fetchTopicOffsets(options.dlqTopic),
    options.queue.status(),
    replicationSlotStatus(options.source.dbUrl, options.source.slot),
  ]);
  return {
    at: new Date().toISOString(),
    groups,
    dlq: { topic: options.dlqTopic, depth: dlqDepth(dlqOffsets) },
    notifications,
    replicationSlot,
  };
}
