import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthSource {
  /** The process is alive and not wedged. */
  live(): boolean;
  /** The service is connected and doing its work. */
  ready(): boolean;
}

/** The /healthz, /readyz and /metrics endpoints every worker service serves. */
export class HealthServer {
  private server: Server | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly source: HealthSource,
    private readonly host: string,
    private readonly port: number,
  ) {}

  async start(): Promise<number> {
    this.server = createServer(async (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/metrics') {
        res.writeHead(200, { 'content-type': this.registry.contentType });
        res.end(await this.registry.metrics());
      } else if (path === '/healthz' || path === '/readyz') {
        const ok = path === '/healthz' ? this.source.live() : this.source.ready();
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
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
