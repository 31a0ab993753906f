import { randomUUID } from 'node:crypto';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { createSchemaRegistry } from '../../shared/avro/schema-registry-client.ts';
import { CompressionTypes, Partitioners, type Message, type Producer } from 'kafkajs';
import { z } from 'zod';
import { topicNames } from '../../schemas/topics.ts';
import { reactionContract, reactionSchema, reactionSubject, type Reaction } from '../../schemas/reaction.ts';
import { RegistryCodec } from '../../shared/avro/registry-codec.ts';
import { KooError, errorMessage } from '../../shared/errors/koo-error.ts';
import { createKafka, type KafkaSasl } from '../../shared/kafka/kafka-client.ts';
import { createLogger, type Logger } from '../../shared/logging/logger.ts';
import { inSpan, SpanKind, traceHeaders } from '../../shared/telemetry/tracing.ts';

/** A reaction as an app service emits it: the event id and time default to a new UUID and now. */
export type ReactionInput = Omit<Reaction, 'event_id' | 'event_time'> &
  Partial<Pick<Reaction, 'event_id' | 'event_time'>>;

export const reactionProducerOptionsSchema = z.object({
  brokers: z.array(z.string().min(1)).min(1, 'brokers must name at least one broker'),
  schemaRegistryUrl: z.url('schemaRegistryUrl must be a URL'),
  clientId: z.string().min(1).default('koo-reaction-producer'),
  ssl: z.boolean().default(false),
  /** kafkajs' SASL option: SCRAM, or oauthBearerMechanism(mskIamTokenProvider(region)) for MSK IAM. */
  sasl: z
    .custom<KafkaSasl>(
      (v) => typeof v === 'object' && v !== null && 'mechanism' in v,
      'sasl must be kafkajs SASL options',
    )
    .optional(),
  topic: z.string().min(1).default(topicNames.reactions),
  /** How long a reaction waits for others to share its request (ms); 0 sends at the next tick. */
  lingerMs: z.number().int().min(0).max(1000).default(5),
  /** Reactions per request at most; a full batch is sent at once. */
  maxBatch: z.number().int().min(1).max(10_000).default(500),
  /** gzip is built into kafkajs; snappy and lz4 would need codec packages. */
  compression: z.enum(['gzip', 'none']).default('gzip'),
});
export type ReactionProducerOptions = z.input<typeof reactionProducerOptionsSchema>;

interface Pending {
  message: Message;
  done: () => void;
  failed: (err: unknown) => void;
}

/**
 * The way app services emit reactions to koo.reactions: `emit` validates against the registered
 * Avro schema before anything is sent (a KooError VALIDATION_FAILED naming the field), frames the
 * event in the Confluent wire format, and keys it by content id so that a koo's reactions stay in
 * order in one partition. Reactions emitted within `lingerMs` share a request (gzip-compressed);
 * the producer is idempotent, so its retries never write a reaction twice. `close` sends what
 * waits, then disconnects; it is safe to call twice.
 */
export class ReactionProducer {
  private readonly producer: Producer;
  private readonly codec: RegistryCodec<Reaction>;
  private readonly schemaId: number;
  private readonly options: z.output<typeof reactionProducerOptionsSchema>;
  private readonly logger: Logger;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private closed: Promise<void> | undefined;

  private constructor(
    producer: Producer,
    codec: RegistryCodec<Reaction>,
    schemaId: number,
    options: z.output<typeof reactionProducerOptionsSchema>,
    logger: Logger,
  ) {
    this.producer = producer;
    this.codec = codec;
    this.schemaId = schemaId;
    this.options = options;
    this.logger = logger;
  }

  /** Checks the options, looks up the schema's registry id (it must be registered: `npm run provision`) and connects. */
  static async connect(
    input: ReactionProducerOptions,
    logger = createLogger('reaction-producer'),
  ): Promise<ReactionProducer> {
    const parsed = reactionProducerOptionsSchema.safeParse(input);
    if (!parsed.success) {
      throw new KooError(
        'CONFIG_INVALID',
        `invalid reaction producer options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    const options = parsed.data;
    const registry = createSchemaRegistry(options.schemaRegistryUrl);
    let schemaId: number;
    try {
      schemaId = await registry.getRegistryIdBySchema(reactionSubject, {
        type: SchemaType.AVRO,
        schema: JSON.stringify(reactionSchema),
      });
    } catch (err) {
      throw new KooError(
        'SCHEMA_UNKNOWN',
        `the reaction schema is not registered under ${reactionSubject} (run npm run provision): ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    }
    const kafka = createKafka(options, logger);
    // Idempotence needs acks from all in-sync replicas and one request in flight per broker (kafkajs).
    // The default partitioner is murmur2 of the key, as Java's: other clients must use the same.
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    return new ReactionProducer(
      producer,
      new RegistryCodec(registry, reactionContract),
      schemaId,
      options,
      logger,
    );
  }

  /**
   * Validates and queues one reaction; resolves with the event as sent once Kafka has it, and
   * rejects at once (nothing sent) when a field is invalid.
   */
  async emit(input: ReactionInput): Promise<Reaction> {
    if (this.closed) throw new KooError('SHUTTING_DOWN', 'the reaction producer is closed');
    const now = Date.now();
    const reaction = reactionContract.read(
      { event_id: randomUUID(), event_time: now, ...input },
      { writtenAtMs: now },
    );
    // A PRODUCER span per reaction (when the app traces): its context rides in the record's
    // headers to every worker that reads it, and on to the notification it causes.
    const attributes = {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'send',
      'messaging.destination.name': this.options.topic,
      'messaging.kafka.message.key': reaction.content_id,
    };
    await inSpan(`${this.options.topic} publish`, { kind: SpanKind.PRODUCER, attributes }, () => {
      const message: Message = {
        key: reaction.content_id,
        value: this.codec.encode(this.schemaId, reaction),
        headers: traceHeaders(),
      };
      return new Promise<void>((done, failed) => {
        this.queue.push({ message, done, failed });
        if (this.queue.length >= this.options.maxBatch) this.sendQueued();
        else this.timer ??= setTimeout(() => this.sendQueued(), this.options.lingerMs);
      });
    });
    return reaction;
  }

  /** Sends what waits and resolves once everything emitted so far is acknowledged. */
  async flush(): Promise<void> {
    this.sendQueued();
    await Promise.allSettled([...this.inFlight]);
  }

  private sendQueued(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    const sent = this.producer
      .send({
        topic: this.options.topic,
        acks: -1,
        compression: this.options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        messages: batch.map((p) => p.message),
      })
      .then(
        () => batch.forEach((p) => p.done()),
        (err: unknown) => {
          this.logger.error({ err, reactions: batch.length }, 'sending reactions failed');
          batch.forEach((p) => p.failed(err));
        },
      )
      .finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.flush();
      await this.producer.disconnect();
    })();
    return this.closed;
  }
}
