import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** Where a service listens for them: its METRICS_HOST and METRICS_PORT (see metricsListener). */
export interface HealthListener {
  METRICS_HOST: string;
  METRICS_PORT: number;
}

/**
 * The /healthz, /readyz and /metrics endpoints every worker service serves. /healthz answers while the
 * process serves HTTP at all; /readyz while `ready()` says the service is connected and doing its work.
 */
export class HealthServer {
  private server: Server | undefined;

  private constructor(
    private readonly registry: Registry,
    private readonly ready: () => boolean,
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** Listens on the service's METRICS_HOST:METRICS_PORT; rejects when the port is taken. */
  static async listen(registry: Registry, listener: HealthListener, ready: () => boolean): Promise<HealthServer> {
    const server = new HealthServer(registry, ready, listener.METRICS_HOST, listener.METRICS_PORT);
    await server.start();
    return server;
  }

  private async start(): Promise<void> {
    this.server = createServer(async (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/metrics') {
        res.writeHead(200, { 'content-type': this.registry.contentType });
        res.end(await this.registry.metrics());
      } else if (path === '/healthz' || path === '/readyz') {
        const ok = path === '/healthz' || this.ready();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, this.host, resolve);
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
