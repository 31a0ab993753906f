import { GetObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3For } from '../../shared/aws/s3-client.ts';
import { runShared, runStoppable, stopSignal, untilStopped } from '../../shared/runtime/process-shutdown.ts';
import { silentServer } from '../support/silent-server.ts';
import { waitFor } from '../support/wait-for.ts';

// An S3 endpoint that accepts connections and never answers (a server stalled under load): a
// handler's request to it must end when its work is stopped (shutdown, a rebalance), as a
// DynamoDB request does, or the member's SIGTERM waits out its deadline (the lake did: 9 s, exit 1).
describe('an S3 request whose work is stopped', () => {
  const endpoint = silentServer();

  it('is abandoned in flight, and none starts after', async () => {
    const s3 = s3For({ AWS_REGION: 'ap-south-1', S3_ENDPOINT: endpoint.url });
    const get = () => s3.send(new GetObjectCommand({ Bucket: 'koo-lake', Key: 'k' }));
    const stop = new AbortController();
    try {
      const inFlight = runStoppable(stop.signal, get).then(
        () => 'answered',
        (err: unknown) => (err as Error).name,
      );
      await waitFor('the request to connect', () => endpoint.sockets.length > 0, {
        timeoutMs: 5_000,
        intervalMs: 10,
      });
      stop.abort();
      expect(await inFlight).toBe('AbortError');
      const before = endpoint.sockets.length;
      await expect(runStoppable(stop.signal, get)).rejects.toMatchObject({ name: 'AbortError' });
      expect(endpoint.sockets.length).toBe(before);
    } finally {
      s3.destroy();
    }
  });
});

describe('work shared by several handlers', () => {
  it('is not stopped by the handler that started it, only by shutdown', async () => {
    const rebalanced = new AbortController();
    rebalanced.abort();
    const seen = await runStoppable(rebalanced.signal, async () => ({
      handler: stopSignal().aborted,
      shared: await runShared(async () => stopSignal().aborted),
    }));
    expect(seen).toEqual({ handler: true, shared: false });
  });

  it('is not waited for by a handler whose work is stopped: it gets SHUTTING_DOWN, the work goes on', async () => {
    const stop = new AbortController();
    let finish!: (v: string) => void;
    const shared = runShared(() => new Promise<string>((resolve) => (finish = resolve)));
    const waiting = runStoppable(stop.signal, () => untilStopped(shared, 'a shared commit', stopSignal()));
    stop.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'SHUTTING_DOWN', retriable: true });
    finish('committed');
    expect(await shared).toBe('committed');
  });
});
