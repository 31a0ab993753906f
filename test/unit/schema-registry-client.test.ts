import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryCodec } from '../../shared/avro/registry-codec.ts';
import { createSchemaRegistry } from '../../shared/avro/schema-registry-client.ts';
import { reactionContract } from '../../schemas/reaction.ts';
import { frame } from '../../shared/avro/wire-format.ts';
import { silentServer } from '../support/silent-server.ts';

// A registry that accepts connections and never answers (a stopped process, a dropped route):
// a request to it must end in a retriable error, or the partition that waits on it stalls.
describe('a schema registry that does not answer', () => {
  const registry = silentServer();

  it('fails the batch with a retriable REGISTRY_UNAVAILABLE after the client retried, instead of waiting forever', async () => {
    const codec = new RegistryCodec(createSchemaRegistry(registry.url, 200), reactionContract);
    const started = Date.now();
    const error = await codec.prepare([frame(7, Buffer.alloc(1))]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', retriable: true });
    // Each try timed out on a connection of its own: the client retried before it gave up.
    expect(registry.sockets.length).toBeGreaterThan(1);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

// A connection the registry (or a proxy before it) closes as the request arrives: mappersmith
// reports it as a status 400 carrying the error ("socket hang up"); it must be retried like a
// timeout, not failed as if the registry had refused the request.
describe('a schema registry connection reset on the first request', () => {
  let server: HttpServer;
  let requests = 0;
  let url = '';

  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      if (requests++ === 0) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      res.end(JSON.stringify({ subject: 'koo.reactions-value', id: 42, version: 1, schema: '"string"' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    url = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("retries the lookup of a subject's schema (a POST) and gets its id", async () => {
    const id = await createSchemaRegistry(url, 2_000).getRegistryIdBySchema('koo.reactions-value', {
      type: SchemaType.AVRO,
      schema: '"string"',
    });
    expect({ id, requests }).toEqual({ id: 42, requests: 2 });
  });
});
