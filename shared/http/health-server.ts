import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from '../metrics/metrics.ts';

export interface ReadinessCheck {
  /** Resolves true when the component can do its work (joined its group, reaches its sinks). */
  (): Promise<boolean> | boolean;
}

/**
 * /healthz: the process is alive and its event loop answers. /readyz: every readiness check
 * passes (a worker that lost Kafka or its sink turns unready). /metrics: Prometheus text.
 */
export class HealthServer {
  private server: Server | undefined;
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly checkTimeoutMs: number;

  /** `checkTimeoutMs`: a readiness check that has not answered by then fails (below the probe's timeout). */
  constructor(checkTimeoutMs = 2_000) {
    this.checkTimeoutMs = checkTimeoutMs;
  }

  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    this.server = createServer((req, res) => {
      void this.route(req.url ?? '/').then(({ status, type, body }) => {
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    return (this.server.address() as AddressInfo).port;
  }

  private async route(url: string): Promise<{ status: number; type: string; body: string }> {
    if (url.startsWith('/healthz')) return { status: 200, type: 'text/plain', body: 'ok\n' };
    if (url.startsWith('/readyz')) {
      const failing: string[] = [];
      // A check that hangs (a sink whose connections time out) counts as failing: the probe must answer.
      await Promise.all(
        [...this.checks].map(async ([name, check]) => {
          let timer: NodeJS.Timeout | undefined;
          const timedOut = new Promise<false>(
            (resolve) => (timer = setTimeout(() => resolve(false), this.checkTimeoutMs)),
          );
          const ok = await Promise.race([Promise.resolve(check()).catch(() => false), timedOut]);
          clearTimeout(timer);
          if (!ok) failing.push(name);
        }),
      );
      return failing.length === 0
        ? { status: 200, type: 'text/plain', body: 'ready\n' }
        : { status: 503, type: 'text/plain', body: `not ready: ${failing.join(', ')}\n` };
    }
    if (url.startsWith('/metrics')) {
      return { status: 200, type: registry.contentType, body: await registry.metrics() };
    }
    return { status: 404, type: 'text/plain', body: 'not found\n' };
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
