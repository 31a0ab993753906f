import { COMPATIBILITY, SchemaType } from '@kafkajs/confluent-schema-registry';
import { createSchemaRegistry } from '../../shared/avro/schema-registry-client.ts';
import avro from 'avsc';
import type { Admin, Consumer, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import { reactionContract, type Reaction } from '../../schemas/reaction.ts';
import { RegistryCodec } from '../../shared/avro/registry-codec.ts';
import { frame } from '../../shared/avro/wire-format.ts';
import { dlqHeaders } from '../../shared/kafka/dlq.ts';
import type { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { reactionsWorkerModule } from '../../workers/reactions/reactions-worker.ts';
import { newId, runId } from '../support/ids.ts';
import { groupCaughtUp, pinGroupAtEnd, testKafka } from '../support/kafka.ts';
import { reactionReadPath, reactionSchemas, testReactionProducer } from '../support/reactions.ts';
import { stackEnv } from '../support/stack-env.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWorkerInProcess } from '../support/workers.ts';

const topics = [topicNames.reactions];
const groupId = `test-reactions-${runId}`;
const testSubject = `itest.reactions.${runId}-value`; // evolution is tried here, never on the real subject
const { v1, withClient: v2, withRequiredWeight: v3, withoutContentId, withLove } = reactionSchemas;
const avroSchema = (schema: object) => ({ type: SchemaType.AVRO as const, schema: JSON.stringify(schema) });

describe('reactions worker (koo.reactions → koo_reactions and counters on koo_content)', () => {
  let admin: Admin;
  let raw: Producer;
  let producer: ReactionProducer;
  const registry = createSchemaRegistry(stackEnv.schemaRegistryUrl);
  const read = reactionReadPath();
  const workers: RunningWorker[] = [];
  // Batches of 4 split the crafted sequence across batches; the replay of the whole topic runs
  // with the worker's default batch size.
  const start = async (group: string, settings: Record<string, string> = { BATCH_SIZE: '4' }) => {
    const w = await startWorkerInProcess(reactionsWorkerModule, { REACTIONS_GROUP_ID: group, ...settings });
    workers.push(w);
    return w;
  };
  const caughtUp = (group: string, timeoutMs = 60_000) =>
    waitFor(`${group} to commit the end of koo.reactions`, () => groupCaughtUp(admin, group, topics), {
      timeoutMs,
    });

  beforeAll(async () => {
    const kafka = testKafka();
    admin = kafka.admin();
    raw = kafka.producer();
    await Promise.all([admin.connect(), raw.connect()]);
    producer = await testReactionProducer();
    await pinGroupAtEnd(admin, groupId, topics);
    await start(groupId);
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await producer?.close();
    await Promise.all([admin?.disconnect(), raw?.disconnect()]);
    read.dynamo.destroy();
    await fetch(`${stackEnv.schemaRegistryUrl}/subjects/${testSubject}`, { method: 'DELETE' });
    await fetch(`${stackEnv.schemaRegistryUrl}/subjects/${testSubject}?permanent=true`, { method: 'DELETE' });
  });

  const koo = newId();
  const [a, b, c, d] = [newId(), newId(), newId(), newId()];
  const expected = { likes: 3, shares: 1, rekoos: 1 };
  // Event times are `ms` after T0 (a real epoch time: the contract refuses times before 2020).
  const T0 = Date.UTC(2026, 0, 1);
  const r = (event_id: string, type: Reaction['type'], user_id: string, ms: number): Reaction => ({
    event_id: `${event_id}-${runId}`,
    type,
    content_id: koo,
    user_id,
    event_time: T0 + ms,
  });

  it('ends a crafted sequence with toggles, duplicates and out-of-order deliveries at the exact counts and items', async () => {
    const rounds: Reaction[][] = [
      [
        r('a1', 'like', a, 1000),
        r('a1', 'like', a, 1000),
        r('b2', 'like', b, 2000),
        r('c1', 'share', c, 1000),
      ],
      [
        r('a2', 'unlike', a, 1100),
        r('c1', 'share', c, 1000),
        r('c2', 'share', c, 1200),
        r('d1', 'like', d, 1000),
      ],
      // b's unlike is older than its like: it arrives late and loses; a's old like comes again after its unlike.
      [
        r('b1', 'unlike', b, 1500),
        r('a1', 'like', a, 1000),
        r('d2', 'unlike', d, 1100),
        r('c3', 'rekoo', c, 1300),
      ],
      [
        r('d3', 'like', d, 1200),
        r('c4', 'like', c, 1400),
        r('c4', 'like', c, 1400),
        r('d2', 'unlike', d, 1100),
      ],
    ];
    for (const round of rounds) {
      await Promise.all(round.map((e) => producer.emit(e)));
      await producer.flush();
    }
    await caughtUp(groupId);
    expect(await read.queries.counts(koo)).toEqual(expected);
    expect(await read.queries.reactionOf(koo, a)).toBeNull(); // liked, unliked, then a late duplicate of the like
    expect(await read.queries.reactionOf(koo, b)).toMatchObject({ liked: true, shared: false });
    expect(await read.queries.reactionOf(koo, c)).toMatchObject({ liked: true, shared: true, rekooed: true });
    expect(await read.queries.reactionOf(koo, c)).toMatchObject({
      reactedAt: new Date(T0 + 1400).toISOString(),
    });
    const page1 = await read.queries.reactionsOf(koo, 2);
    const page2 = await read.queries.reactionsOf(koo, 2, page1.cursor);
    expect([...page1.items, ...page2.items].map((v) => v.userId).sort()).toEqual([b, c, d].sort());
  });

  // The whole topic, other tests' events included: about 55,000 on a fresh CI stack (mostly the
  // crash test's, already counted, so the replay mostly reads fences), but a long-lived dev stack
  // keeps 30 days of benchmarks (190,000 events took 98 s on a loaded machine), so the deadline
  // grows with the topic at 1,000 events/s.
  it('changes nothing when a new group replays the topic from offset 0', { timeout: 900_000 }, async () => {
    const replay = `test-reactions-replay-${runId}`;
    const before = await read.queries.reactionsOf(koo, 10);
    const events = (await admin.fetchTopicOffsets(topicNames.reactions)).reduce(
      (sum, p) => sum + Number(p.high) - Number(p.low),
      0,
    );
    const w = await start(replay, {}); // a new group starts at offset 0 (FROM_BEGINNING)
    await caughtUp(replay, Math.max(60_000, events)); // 1 ms per event: 1,000 events/s
    await w.close();
    expect(await read.queries.counts(koo)).toEqual(expected);
    expect((await read.queries.reactionsOf(koo, 10)).items).toEqual(before.items);
  });

  it('evolves the schema: an added optional field is accepted and old and new events both count; an incompatible change is refused', async () => {
    const { id: id1 } = await registry.register(avroSchema(v1), {
      subject: testSubject,
      compatibility: COMPATIBILITY.BACKWARD,
    });
    const { id: id2 } = await registry.register(avroSchema(v2), {
      subject: testSubject,
      compatibility: COMPATIBILITY.BACKWARD,
    });
    expect(id2).not.toBe(id1);
    const refused = await registry
      .register(avroSchema(v3), { subject: testSubject, compatibility: COMPATIBILITY.BACKWARD })
      .then(
        () => undefined,
        (e: unknown) => e as Error & { status?: number },
      );
    expect(refused?.status).toBe(409);
    expect(refused?.message).toMatch(/incompatible/i);
    expect(refused?.message).toContain('weight');

    const evolvedKoo = newId();
    const old = { ...r('v1', 'like', a, 5000), content_id: evolvedKoo };
    const fresh = { ...r('v2', 'share', b, 5001), content_id: evolvedKoo, client: 'android' };
    const messages = [
      frame(id1, avro.Type.forSchema(v1 as avro.Schema).toBuffer(old)),
      frame(id2, avro.Type.forSchema(v2 as avro.Schema).toBuffer(fresh)),
    ];
    const reader = new RegistryCodec(createSchemaRegistry(stackEnv.schemaRegistryUrl), reactionContract);
    await reader.prepare(messages);
    const { client: _, ...freshAsRead } = fresh; // the reader's schema has no client field
    expect(messages.map((m) => reader.decode(m))).toEqual([old, freshAsRead]);

    await raw.send({
      topic: topicNames.reactions,
      messages: messages.map((value) => ({ key: evolvedKoo, value })),
    });
    await caughtUp(groupId);
    expect(await read.queries.counts(evolvedKoo)).toEqual({ likes: 1, shares: 1, rekoos: 0 });
  });

  it('sends what it cannot count to the DLQ with the reason, and keeps counting after it; the producer refuses it up front', async () => {
    const bad = newId();
    const dlqGroup = `test-reactions-dlq-${runId}`;
    await pinGroupAtEnd(admin, dlqGroup, [topicNames.dlq]);
    const other = `itest.reactions.bad.${runId}-value`;
    const { id: noContentId } = await registry.register(avroSchema(withoutContentId), {
      subject: other,
      compatibility: COMPATIBILITY.NONE,
    });
    const { id: loveId } = await registry.register(avroSchema(withLove), {
      subject: `${other}2`,
      compatibility: COMPATIBILITY.NONE,
    });
    const event = r('bad', 'like', a, 7000);
    const { content_id: _, ...noContent } = { ...event, content_id: bad };
    await raw.send({
      topic: topicNames.reactions,
      messages: [
        { key: bad, value: Buffer.from('{"type":"like"}') },
        { key: bad, value: frame(2_000_000_000, Buffer.from([0])) },
        {
          key: bad,
          value: frame(noContentId, avro.Type.forSchema(withoutContentId as avro.Schema).toBuffer(noContent)),
        },
        // Through the schema whose type enum has `love`: a bad type, a time in microseconds, a key that is not the content id.
        ...[
          { key: bad, value: { type: 'love' } },
          { key: bad, value: { event_time: event.event_time * 1000 } }, // microseconds
          { key: 'another-koo', value: {} },
        ].map(({ key, value }) => ({
          key,
          value: frame(
            loveId,
            avro.Type.forSchema(withLove as avro.Schema).toBuffer({ ...event, content_id: bad, ...value }),
          ),
        })),
      ],
    });
    await producer.emit({ ...event, content_id: bad, event_id: `ok-${runId}` }); // after the bad ones, same partition

    await waitFor(
      'the good reaction after the bad ones to count',
      async () => (await read.queries.counts(bad)).likes === 1,
    );
    const consumer: Consumer = testKafka().consumer({ groupId: dlqGroup });
    // Source position → reason: the reactions workers of other files' groups, running beside this
    // one, dead-letter the same records too (and the lake worker under its own name).
    const reasonAt = new Map<string, string>();
    await consumer.connect();
    await consumer.subscribe({ topic: topicNames.dlq });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const key = message.key?.toString();
        const header = (name: string) => message.headers?.[name]?.toString();
        if ((key === bad || key === 'another-koo') && header(dlqHeaders.worker) === 'reactions') {
          reasonAt.set(
            `${header(dlqHeaders.partition)}/${header(dlqHeaders.offset)}`,
            `${header(dlqHeaders.code)}: ${header(dlqHeaders.reason)}`,
          );
        }
      },
    });
    await waitFor('six dead letters', () => reasonAt.size >= 6);
    await consumer.disconnect();
    const reasons = [...reasonAt.values()];
    const micros = reasons.filter((r) => r.includes('event_time'));
    expect(micros).toEqual([
      expect.stringMatching(
        /^VALIDATION_FAILED: invalid koo\.events\.Reaction: event_time: \d+ is more than 5 min after the record was written \(\d+; microseconds instead of milliseconds\?\)$/,
      ),
    ]);
    expect(reasons.filter((r) => !micros.includes(r)).sort()).toEqual(
      [
        'DECODE_FAILED: not in the Confluent wire format (magic byte 0 and a schema id)',
        'SCHEMA_UNKNOWN: schema id 2000000000 is not in the registry (or is not Avro)',
        'VALIDATION_FAILED: invalid koo.events.Reaction: content_id: missing',
        'VALIDATION_FAILED: invalid koo.events.Reaction: type: expected one of like, unlike, share, rekoo, got "love"',
        `VALIDATION_FAILED: record key "another-koo" is not the content id ${bad}`,
      ].sort(),
    );
    for (const s of [other, `${other}2`]) {
      await fetch(`${stackEnv.schemaRegistryUrl}/subjects/${s}`, { method: 'DELETE' });
      await fetch(`${stackEnv.schemaRegistryUrl}/subjects/${s}?permanent=true`, { method: 'DELETE' });
    }

    const emit = (e: object) =>
      producer.emit(e as Reaction).then(
        () => 'sent',
        (err: Error) => err.message,
      );
    expect(await emit({ ...event, type: 'love' })).toContain(
      'type: expected one of like, unlike, share, rekoo, got "love"',
    );
    expect(await emit({ ...event, content_id: undefined })).toBe(
      'invalid koo.events.Reaction: content_id: missing',
    );
    expect(await emit({ ...event, user_id: '' })).toBe(
      'invalid koo.events.Reaction: user_id: must be 1 to 64 characters',
    );
    expect(await emit({ ...event, event_time: 'yesterday' })).toContain('event_time: expected Avro long');
  });
});
