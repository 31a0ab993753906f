import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPATIBILITY } from '@kafkajs/confluent-schema-registry';
import { createSchemaRegistry } from '../../shared/avro/schema-registry-client.ts';
import { reactionSubject } from '../../schemas/reaction.ts';
import { eventSchemaCompatibility } from '../../infra/provision.ts';
import { reactionSchemas } from '../support/reactions.ts';
import { stackEnv } from '../support/stack-env.ts';

// The local schema registry (Apicurio through its Confluent-compatible API) checked with the
// Confluent client the project uses: ids, the wire format, BACKWARD evolution and refusal.

const base = stackEnv.schemaRegistryUrl;
const run = randomUUID().slice(0, 8);
const subject = `itest.reactions.${run}-value`;
const otherSubject = `itest.copy.${run}-value`;

const v1 = {
  type: 'record',
  name: 'Reaction',
  namespace: 'koo.itest',
  fields: [
    { name: 'eventId', type: 'string' },
    { name: 'contentId', type: 'string' },
    { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['like', 'unlike', 'share', 'rekoo'] } },
    { name: 'eventTime', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};
// Compatible evolution: an added optional field with a default.
const v2 = { ...v1, fields: [...v1.fields, { name: 'client', type: ['null', 'string'], default: null }] };
// Incompatible under BACKWARD: a new reader cannot fill a required field missing from old data.
const v3 = { ...v2, fields: [...v2.fields, { name: 'weight', type: 'int' }] };

const avro = (schema: object) => ({ type: 'AVRO' as never, schema: JSON.stringify(schema) });

async function rest(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

// A client with an empty cache: decoding through it proves the id resolves on the server.
const fresh = () => createSchemaRegistry(base);

describe('schema registry (Confluent API)', () => {
  const registry = createSchemaRegistry(base);
  const event = { eventId: 'e-1', contentId: 'k-1', kind: 'like', eventTime: 1_764_000_000_000 };
  let id1 = 0;
  let id2 = 0;
  let oldMessage: Buffer;

  afterAll(async () => {
    for (const s of [subject, otherSubject]) {
      await rest('DELETE', `/subjects/${encodeURIComponent(s)}`);
      await rest('DELETE', `/subjects/${encodeURIComponent(s)}?permanent=true`);
    }
  });

  it('registers under a subject with BACKWARD compatibility and answers GET /schemas/ids/{id}', async () => {
    ({ id: id1 } = await registry.register(avro(v1), { subject, compatibility: COMPATIBILITY.BACKWARD }));
    expect(id1).toBeGreaterThan(0);

    const config = await rest('GET', `/config/${encodeURIComponent(subject)}`);
    expect(config.json.compatibilityLevel).toBe('BACKWARD');

    const byId = await rest('GET', `/schemas/ids/${id1}`);
    expect(byId.status).toBe(200);
    expect(JSON.parse(byId.json.schema as string)).toMatchObject({
      name: 'Reaction',
      namespace: 'koo.itest',
    });
    expect(await registry.getLatestSchemaId(subject)).toBe(id1);
  });

  it('gives the same id for the same schema, as Confluent does (re-register, other subject, other formatting)', async () => {
    expect((await registry.register(avro(v1), { subject })).id).toBe(id1);
    const spaced = { type: 'AVRO' as never, schema: JSON.stringify(v1, null, 2) };
    expect((await fresh().register(spaced, { subject })).id).toBe(id1);
    expect((await registry.register(avro(v1), { subject: otherSubject })).id).toBe(id1);
    const versions = await rest('GET', `/subjects/${encodeURIComponent(subject)}/versions`);
    expect(versions.json).toEqual([1]);
  });

  it('encodes in the Confluent wire format and decodes', async () => {
    oldMessage = await registry.encode(id1, event);
    expect(oldMessage[0]).toBe(0); // magic byte
    expect(oldMessage.readInt32BE(1)).toBe(id1);
    expect(await fresh().decode(oldMessage)).toEqual(event);
  });

  it('accepts a compatible evolution and decodes old and new messages', async () => {
    ({ id: id2 } = await registry.register(avro(v2), { subject, compatibility: COMPATIBILITY.BACKWARD }));
    expect(id2).not.toBe(id1);
    expect(await registry.getLatestSchemaId(subject)).toBe(id2);

    const newMessage = await registry.encode(id2, { ...event, client: 'android' });
    const reader = fresh();
    expect(await reader.decode(newMessage)).toEqual({ ...event, client: 'android' });
    // Old data read with its writer schema, and projected onto the new reader schema.
    expect(await reader.decode(oldMessage)).toEqual(event);
    const projected = await reader.decode(oldMessage, { AVRO: { readerSchema: v2 as never } } as never);
    expect(projected).toEqual({ ...event, client: null });
  });

  it('refuses an incompatible change with a clear error', async () => {
    const err = await registry.register(avro(v3), { subject, compatibility: COMPATIBILITY.BACKWARD }).then(
      () => undefined,
      (e: unknown) => e as Error & { status?: number },
    );
    expect(err, 'an incompatible schema was registered').toBeDefined();
    expect(err!.status).toBe(409);
    expect(err!.message).toMatch(/incompatible/i);
    expect(err!.message).toContain('weight');
    expect(await registry.getLatestSchemaId(subject)).toBe(id2);

    const check = await rest(
      'POST',
      `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`,
      {
        schema: JSON.stringify(v3),
      },
    );
    expect(check.json.is_compatible).toBe(false);
  });

  it('refuses an invalid schema', async () => {
    const res = await rest('POST', `/subjects/${encodeURIComponent(subject)}/versions`, {
      schema: JSON.stringify({
        type: 'record',
        name: 'Broken',
        fields: [{ name: 'x', type: 'no-such-type' }],
      }),
    });
    expect(res.status).toBe(422);
  });

  it('guards the reaction subject for every reader: only fields with a default may come or go', async () => {
    const path = encodeURIComponent(reactionSubject);
    expect((await rest('GET', `/config/${path}`)).json).toEqual({
      compatibilityLevel: eventSchemaCompatibility,
    });
    const check = async (schema: object) =>
      (
        await rest('POST', `/compatibility/subjects/${path}/versions/latest`, {
          schema: JSON.stringify(schema),
        })
      ).json.is_compatible;
    const { v1: current, withClient, withoutContentId } = reactionSchemas;
    expect(await check(withClient)).toBe(true); // an added optional field
    expect(await check(withoutContentId)).toBe(false); // a field every worker reads, deleted
    const withRequired = { ...current, fields: [...current.fields, { name: 'weight', type: 'int' }] };
    expect(await check(withRequired)).toBe(false); // old records lack it
  });
});
