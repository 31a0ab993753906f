// Health probe for the local broker, run by infra/stack/services/kafka.sh: exits 0 when the broker
// answers metadata requests AND the group coordinator is up (__consumer_offsets exists and a
// FindCoordinator + DescribeGroups round trip succeeds), which is what the workers need to start.
// PROBE_TOPICS=a,b,c additionally requires those topics to exist (connect.sh checks the CDC topics,
// which auto.create.topics.enable=false means Debezium cannot create on first write).
import { Kafka, logLevel } from 'kafkajs';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = new Kafka({
  clientId: 'koo-stack-probe',
  brokers,
  logLevel: logLevel.NOTHING,
  connectionTimeout: 1000,
  requestTimeout: 3000,
  retry: { retries: 1, initialRetryTime: 200 },
});
const admin = kafka.admin();
try {
  await admin.connect();
  const topics = new Set(await admin.listTopics());
  const missing = (process.env.PROBE_TOPICS ?? '').split(',').filter((t) => t && !topics.has(t));
  const { groups } = await admin.describeGroups(['koo-stack-probe']);
  if (groups.length !== 1) throw new Error('group coordinator did not describe the probe group');
  if (missing.length > 0) console.error(`missing topics: ${missing.join(', ')}`);
  process.exitCode = missing.length > 0 ? 2 : 0;
} catch (err) {
  if (process.env.PROBE_VERBOSE) console.error(err);
  process.exitCode = 1;
} finally {
  await admin.disconnect().catch(() => {});
}
