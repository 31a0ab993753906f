import { createKafka } from '../../shared/kafka/kafka-client.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { stackEnv } from './stack-env.ts';

export function testKafka() {
  return createKafka(
    { brokers: stackEnv.kafkaBrokers, clientId: 'koo-tests' },
    createLogger('test', 'error'),
  );
}

export { groupCaughtUp, moveGroupToEnd as pinGroupAtEnd } from '../../shared/kafka/consumer-lag.ts';
