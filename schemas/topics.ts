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

export const topics: TopicDefinition[] = [
  // CDC topics are keyed by primary key; Debezium writes them, the project creates them (auto-create is off).
  { name: topicNames.users, partitions: defaultPartitions, config: { 'retention.ms': String(30 * DAY_MS) } },
  { name: topicNames.koos, partitions: defaultPartitions, config: { 'retention.ms': String(30 * DAY_MS) } },
  {
    name: topicNames.follows,
    partitions: defaultPartitions,
    config: { 'retention.ms': String(30 * DAY_MS) },
  },
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
