import { createConnection, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP forwarder in front of a stack service, so a test can take the service away from the
 * workers (refused and reset connections, as when its server is down) without losing its state:
 * moto keeps its data in memory, so stopping the real process would also wipe the tables.
 */
export async function startTcpProxy(target: URL) {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
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
    /** The service goes away: new connections are refused, open ones are reset. */
    cut: async () => {
      const closed = stopListening();
      for (const s of sockets) s.resetAndDestroy();
      await closed;
    },
    /** The service is back on the same address. */
    restore: () => listen(port).then(() => undefined),
    close: async () => {
      for (const s of sockets) s.destroy();
      if (server.listening) await stopListening();
    },
  };
}
