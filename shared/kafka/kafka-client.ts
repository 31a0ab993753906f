import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../logging/logger.ts';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  ssl?: boolean;
}

const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose log lines go through the component's pino logger. */
export function createKafka(options: KafkaClientOptions, logger: Logger): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ssl: options.ssl ?? false,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log }: LogEntry) => {
        const { message, ...extra } = log;
        logger[levels[level] ?? 'info']({ kafkajs: namespace, ...extra }, message);
      },
    retry: { initialRetryTime: 200, retries: 8 },
  });
}
