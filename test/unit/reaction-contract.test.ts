import { readFileSync } from 'node:fs';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { generatedFile, generatedSchemas } from '../../schemas/avro-codegen.ts';
import { reactionContract, type Reaction } from '../../schemas/reaction.ts';
import { RegistryCodec } from '../../shared/avro/registry-codec.ts';
import { frame } from '../../shared/avro/wire-format.ts';
import type { KooError } from '../../shared/errors/koo-error.ts';
import { reactionSchemas } from '../support/reactions.ts';

const reaction: Reaction = {
  event_id: 'e1',
  type: 'like',
  content_id: 'k1',
  user_id: 'u1',
  event_time: 1_764_000_000_000,
};
// Writer schemas a producer elsewhere might use, by registry id.
const writers: Record<number, object> = {
  1: reactionSchemas.v1,
  2: reactionSchemas.withClient,
  3: reactionSchemas.withoutContentId,
  4: reactionSchemas.withLove,
};
const fakeRegistry = {
  getSchema: async (id: number) => {
    if (!writers[id]) throw Object.assign(new Error('Schema not found'), { status: 404 });
    return avro.Type.forSchema(writers[id] as avro.Schema);
  },
} as unknown as SchemaRegistry;

const failure = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err as KooError;
  }
  throw new Error('expected a failure');
};

describe('reaction contract', () => {
  it('names the bad field', () => {
    const { content_id: _, ...noContent } = reaction;
    expect(failure(() => reactionContract.read(noContent)).message).toBe(
      'invalid koo.events.Reaction: content_id: missing',
    );
    const love = failure(() => reactionContract.read({ ...reaction, type: 'love' }));
    expect(love).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'type' } });
    expect(love.message).toContain('expected one of like, unlike, share, rekoo, got "love"');
    expect(failure(() => reactionContract.read({ ...reaction, event_time: '2026-11-27' })).message).toContain(
      'event_time',
    );
    expect(failure(() => reactionContract.read({ ...reaction, user_id: '' })).message).toBe(
      'invalid koo.events.Reaction: user_id: must be 1 to 64 characters',
    );
    expect(reactionContract.read({ ...reaction, extra: 1 })).toEqual(reaction);
  });

  it('takes event_time only as epoch milliseconds near the time the record was written', () => {
    const writtenAtMs = reaction.event_time + 1_000;
    const micros = failure(() =>
      reactionContract.read({ ...reaction, event_time: reaction.event_time * 1000 }, { writtenAtMs }),
    );
    expect(micros).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'event_time' } });
    expect(micros.message).toContain('microseconds instead of milliseconds?');
    const seconds = failure(() => reactionContract.read({ ...reaction, event_time: 1_764_000_000 }));
    expect(seconds).toMatchObject({ details: { field: 'event_time' } });
    expect(seconds.message).toContain('before 2020-01-01');
    const ahead = { ...reaction, event_time: writtenAtMs + 5 * 60_000 };
    expect(reactionContract.read(ahead, { writtenAtMs })).toEqual(ahead);
    expect(() =>
      reactionContract.read({ ...ahead, event_time: ahead.event_time + 1 }, { writtenAtMs }),
    ).toThrow(/event_time: .* more than 5 min after the record was written/);
    // Late is fine (a retried event keeps its time); no timestamp (0, -1) bounds nothing above.
    expect(reactionContract.read(reaction, { writtenAtMs: writtenAtMs + 86_400_000 })).toEqual(reaction);
    expect(reactionContract.read(ahead, { writtenAtMs: 0 })).toEqual(ahead);
  });

  it('keeps the generated TypeScript types in step with the .avsc files', async () => {
    for (const schema of generatedSchemas) {
      const { path, text } = await generatedFile(schema);
      expect(readFileSync(path, 'utf8'), `${path} is stale: run node schemas/avro-codegen.ts`).toBe(text);
    }
  });
});

describe('reaction codec (Confluent wire format)', () => {
  const codec = new RegistryCodec(fakeRegistry, reactionContract);
  const encode = (id: number, value: object) =>
    frame(id, avro.Type.forSchema(writers[id] as avro.Schema).toBuffer(value));

  it('decodes events of older and newer compatible writer schemas', async () => {
    const messages = [codec.encode(1, reaction), encode(2, { ...reaction, client: 'android' })];
    await codec.prepare(messages);
    expect(messages.map((m) => codec.decode(m))).toEqual([reaction, reaction]);
  });

  it("keeps a newer writer's field through the loose contract (the lake's), still checking its own fields", async () => {
    const loose = new RegistryCodec(fakeRegistry, reactionContract.loose());
    const messages = [
      codec.encode(1, reaction),
      encode(2, { ...reaction, client: 'android' }),
      encode(2, { ...reaction, user_id: '', client: 'ios' }),
    ];
    await loose.prepare(messages);
    expect(loose.decode(messages[0]!)).toEqual(reaction);
    expect(loose.decode(messages[1]!)).toEqual({ ...reaction, client: 'android' });
    expect(failure(() => loose.decode(messages[2]!)).message).toBe(
      'invalid koo.events.Reaction: user_id: must be 1 to 64 characters',
    );
    expect(reactionContract.read({ ...reaction, constructor: 'x' })).toEqual(reaction);
    expect(reactionContract.loose().read({ ...reaction, constructor: 'x' })).toEqual({
      ...reaction,
      constructor: 'x',
    });
  });

  it('rejects what it cannot count, with the reason', async () => {
    const { content_id: _, ...noContent } = reaction;
    const messages = {
      notAvro: Buffer.from('{"type":"like"}'),
      unknownId: frame(999, Buffer.from([1, 2, 3])),
      truncated: frame(1, Buffer.from([2, 0x41])),
      noContent: encode(3, noContent),
      love: encode(4, { ...reaction, type: 'love' }),
      empty: null,
    };
    await codec.prepare(Object.values(messages));
    const reasons = Object.fromEntries(
      Object.entries(messages).map(([k, m]) => [k, failure(() => codec.decode(m))]),
    );
    expect(reasons.notAvro).toMatchObject({
      code: 'DECODE_FAILED',
      message: expect.stringContaining('wire format'),
    });
    expect(reasons.unknownId).toMatchObject({
      code: 'SCHEMA_UNKNOWN',
      message: expect.stringContaining('999'),
    });
    expect(reasons.truncated).toMatchObject({ code: 'DECODE_FAILED' });
    expect(reasons.noContent).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: 'invalid koo.events.Reaction: content_id: missing',
    });
    expect(reasons.love).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'type' } });
    expect(reasons.empty).toMatchObject({ code: 'DECODE_FAILED' });
    // The same writer schema still carries countable events.
    const like = encode(4, reaction);
    expect(codec.decode(like)).toEqual(reaction);
    // A consumed record is checked against its Kafka timestamp.
    const micros = encode(1, { ...reaction, event_time: reaction.event_time * 1000 });
    await codec.prepare([micros]);
    expect(
      failure(() => codec.decodeRecord({ value: micros, timestamp: String(reaction.event_time) })),
    ).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { field: 'event_time' },
    });
  });
});
