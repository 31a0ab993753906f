import {
  commonConfigSchema,
  consumerConfigSchema,
  type CommonConfig,
  type ConsumerConfig,
} from '../config/common.ts';
import kafkajs from 'kafkajs';
import { HealthServer } from '../http/health-server.ts';
import { createKafka, kafkaClientOptions } from '../kafka/kafka-client.ts';
import { createLogger, type Logger } from '../logging/logger.ts';
import { ConsumerRuntime, type ConsumerRuntimeOptions } from './consumer-runtime.ts';
import { configOrExit, exitOnSignals, processShutdown } from './process-shutdown.ts';
import { startTracing } from '../telemetry/tracing.ts';
import type { WorkerDefinition } from './worker-definition.ts';

export const workerConfigSchema = commonConfigSchema.safeExtend(consumerConfigSchema.shape);
export type WorkerConfig = CommonConfig & ConsumerConfig;

/** What a worker's module exports for the runtime: its name, its config loader, its factory. */
export interface WorkerModule<C extends WorkerConfig, T> {
  name: string;
  loadConfig: (env: NodeJS.ProcessEnv) => C;
  create: (config: C, logger: Logger) => WorkerDefinition<T> | Promise<WorkerDefinition<T>>;
}

export interface RunningWorker {
  httpPort: number;
  close(): Promise<void>;
}

/**
 * Starts a worker as a process: config is validated first (a bad value exits with its name),
 * then health/metrics over HTTP, then the consumer. SIGTERM/SIGINT drain and exit within the
 * shutdown timeout, which is below Kubernetes' default 30 s grace and DESIGN's 10 s.
 */
export async function runWorker<C extends WorkerConfig, T>(
  module: WorkerModule<C, T>,
  options: {
    env?: NodeJS.ProcessEnv;
    /** Install signal handlers and exit the process when done (false in tests). */
    ownProcess?: boolean;
    onCommitted?: ConsumerRuntimeOptions['onCommitted'];
  } = {},
): Promise<RunningWorker> {
  const ownProcess = options.ownProcess ?? true;
  const config = configOrExit(module.name, ownProcess, () => module.loadConfig(options.env ?? process.env));
  const logger = createLogger(module.name, config.LOG_LEVEL);
  // A process of its own reports its spans; a test process hosting workers sets up its own tracing.
  const stopTracing = ownProcess
    ? startTracing(`koo-${module.name}`, config.OTEL_TRACES_EXPORTER)
    : async () => {};
  const worker = await module.create(config, logger);
  const kafka = createKafka(kafkaClientOptions(config, `${config.KAFKA_CLIENT_ID}-${module.name}`), logger);
  let onFatal = (err: Error) => logger.error({ err }, 'consumer stopped for good');
  const runtime = new ConsumerRuntime(
    kafka,
    worker,
    {
      batchSize: config.BATCH_SIZE,
      dlqTopic: config.DLQ_TOPIC,
      sessionTimeoutMs: config.SESSION_TIMEOUT_MS,
      rebalanceTimeoutMs: config.REBALANCE_TIMEOUT_MS,
      fromBeginning: config.FROM_BEGINNING,
      fetchMinBytes: config.FETCH_MIN_BYTES,
      fetchMaxWaitMs: config.FETCH_MAX_WAIT_MS,
      partitionsConcurrently: config.PARTITIONS_CONCURRENTLY,
      tableCatchUpMaxMs: config.TABLE_CATCH_UP_MAX_MS,
      onCommitted: options.onCommitted,
      onFatal: (err) => onFatal(err),
    },
    logger,
  );
  const health = new HealthServer();
  health.addReadinessCheck('kafka', () => runtime.isReady());
  if (worker.sinkReady) health.addReadinessCheck('sink', () => worker.sinkReady!());
  const httpPort = await health.listen(config.HTTP_PORT);
  logger.info({ httpPort, groupId: worker.groupId, topics: worker.topics }, 'worker starting');
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      logger.info('shutting down');
      await runtime.close();
      await worker.close?.();
      await health.close();
      await stopTracing().catch((err: unknown) => logger.warn({ err }, 'flushing spans failed'));
      logger.info('stopped');
    })());

  if (ownProcess) {
    exitOnSignals(logger, config.SHUTDOWN_TIMEOUT_MS, close);
    // A consumer kafkajs will not restart leaves a process that looks alive and does nothing:
    // exit instead, and the supervisor (or Kubernetes) starts a fresh one that rejoins the group.
    onFatal = (err) => {
      logger.error({ err }, 'consumer stopped for good; exiting so that a fresh process takes over');
      processShutdown.abort();
      setTimeout(() => process.exit(1), config.SHUTDOWN_TIMEOUT_MS).unref();
      void close().finally(() => process.exit(1));
    };
  }
  // After the handlers above: kafkajs can give up while the consumer is still joining (a broker
  // restarting), and that process must exit too.
  try {
    await runtime.start();
  } catch (err) {
    if (!ownProcess) throw err;
    // Refused credentials will not work on a retry: exit as a configuration error (EX_CONFIG),
    // one line naming the setting, like a bad variable.
    if (err instanceof kafkajs.KafkaJSSASLAuthenticationError) {
      process.stderr.write(
        `${module.name}: ${err.message} (KAFKA_SASL_MECHANISM=${config.KAFKA_SASL_MECHANISM}` +
          `${config.KAFKA_SASL_USERNAME ? `, KAFKA_SASL_USERNAME=${config.KAFKA_SASL_USERNAME}` : ''})\n`,
      );
      await close().catch(() => {});
      process.exit(78);
    }
    throw err;
  }
  return { httpPort, close };
}
