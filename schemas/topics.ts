/**
 * The topics the pipeline reads and writes, with partition counts and configs: the one
 * definition the provisioning code (infra/provision.ts) creates. Partition count caps the
 * replicas of a worker, so it is sized for scale-out (DEFAULT_PARTITIONS can raise it per deployment).
 */
export interface TopicDefinition {
  name: string;
  partitions: number;
  config: Record<string, string>;
}

const DAY_MS = 24 * 3600 * 1000;
const defaultPartitions = Number(process.env.DEFAULT_PARTITIONS ?? 12);

export const topicNames = {
  users: 'koo.public.users',
  koos: 'koo.public.koos',
  follows: 'koo.public.follows',
  reactions: 'koo.reactions',
  dlq: 'koo.dlq',
  /** Debezium's heartbeat records (heartbeat.topics.prefix + topic.prefix). */
  debeziumHeartbeat: '__debezium-heartbeat.koo',
  /** Changes of the heartbeat and signal tables themselves: no worker reads them. */
  heartbeatRows: 'koo.public.debezium_heartbeat',
  signalRows: 'koo.public.debezium_signal',
} as const;

/**
 * CDC topics are compacted, so each holds the current state of its table for good and a view can
 * be rebuilt from offset 0 at any age (`koo backfill`). Every change stays for a week (a consumer
 * up to a week behind sees each one); within two weeks a key keeps only its newest record. A
 * delete's Kafka tombstone stays 30 days more, then the key is gone: by then the views' own
 * delete tombstones (TOMBSTONE_TTL_DAYS, 35) no longer need to fence a replayed create, since no
 * topic holds it any more.
 */
export const cdcTopicConfig: Record<string, string> = {
  'cleanup.policy': 'compact',
  'min.compaction.lag.ms': String(7 * DAY_MS),
  'max.compaction.lag.ms': String(14 * DAY_MS),
  'delete.retention.ms': String(30 * DAY_MS),
};

export const topics: TopicDefinition[] = [
  // CDC topics are keyed by primary key; Debezium writes them, the project creates them (auto-create is off).
  { name: topicNames.users, partitions: defaultPartitions, config: cdcTopicConfig },
  { name: topicNames.koos, partitions: defaultPartitions, config: cdcTopicConfig },
  { name: topicNames.follows, partitions: defaultPartitions, config: cdcTopicConfig },
  {
    name: topicNames.reactions,
    partitions: defaultPartitions,
    config: { 'retention.ms': String(30 * DAY_MS) },
  },
  { name: topicNames.dlq, partitions: 3, config: { 'retention.ms': String(90 * DAY_MS) } },
  // Debezium's bookkeeping (heartbeats every 10 s, signals): one partition, a day is plenty.
  ...[topicNames.debeziumHeartbeat, topicNames.heartbeatRows, topicNames.signalRows].map((name) => ({
    name,
    partitions: 1,
    config: { 'retention.ms': String(DAY_MS) },
  })),
];
