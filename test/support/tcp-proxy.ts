import { createConnection, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP forwarder in front of a stack service, so a test can take the service away from the
 * workers (refused and reset connections, as when its server is down) or make it answer slowly,
 * without touching the service itself.
 */
export async function startTcpProxy(target: URL) {
  const sockets = new Set<Socket>();
  let answerDelayMs = 0;
  const calls = new Map<string, number>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream);
    client.on('data', (chunk: Buffer) => {
      for (const [, operation] of chunk.toString('latin1').matchAll(/x-amz-target:\s*[\w.]+\.(\w+)/gi))
        calls.set(operation!, (calls.get(operation!) ?? 0) + 1);
    });
    // Every chunk waits the same time, so the answers keep their order.
    upstream.on('data', (chunk: Buffer) => {
      if (answerDelayMs === 0) client.write(chunk);
      else setTimeout(() => client.destroyed || client.write(chunk), answerDelayMs);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const port = await listen(0);
  const stopListening = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    /** How many AWS JSON calls of `operation` (its X-Amz-Target) clients sent through the proxy. */
    calls: (operation: string) => calls.get(operation) ?? 0,
    /** The service goes away: new connections are refused, open ones are reset. */
    cut: async () => {
      const closed = stopListening();
      for (const s of sockets) s.resetAndDestroy();
      await closed;
    },
    /** Every answer of the service reaches the client `ms` later (0: at once). */
    slowAnswers: (ms: number) => {
      answerDelayMs = ms;
    },
    /** The service is back on the same address. */
    restore: () => listen(port).then(() => undefined),
    close: async () => {
      for (const s of sockets) s.destroy();
      if (server.listening) await stopListening();
    },
  };
}
