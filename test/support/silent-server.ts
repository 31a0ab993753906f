import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

/**
 * A loopback server that accepts connections and never answers (a stopped process, a dropped
 * route, a server stalled under load), listening for the file's tests: its URL once they start,
 * and the connections it got.
 */
export function silentServer(): { url: string; readonly sockets: Socket[] } {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  const silent = { url: '', sockets };
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    silent.url = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return silent;
}
