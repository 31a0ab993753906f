import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../logging/logger.ts';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  ssl?: boolean;
}

// kafkajs 2.2.4 hands setTimeout a negative delay (tulios/kafkajs#1751, unreleased fix), which
// Node 24 reports on every connection; the delay is clamped to 1 ms, so the warning is noise.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  if (type === 'TimeoutNegativeWarning') return;
  (emitWarning as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

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
        // The connection layer logs every error response (routine during a rebalance) as an
        // error; the layers above log the ones that matter.
        const name =
          namespace === 'Connection' && level === logLevel.ERROR ? 'debug' : (levels[level] ?? 'info');
        logger[name]({ kafkajs: namespace, ...extra }, message);
      },
    retry: { initialRetryTime: 200, retries: 8 },
  });
}
