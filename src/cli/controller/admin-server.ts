/**
 * The admin port of the controller (/ready: caches synced) and of identity (`--admin-listen`;
 * /ready: the issuer within its validity): /live, /ready, /metrics (Prometheus) — what the
 * Deployment's probes and a Prometheus scrape need, nothing more.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

export function startAdminServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  ready: () => string | null;
}): Promise<AdminServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/live') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('live\n');
    } else if (path === '/ready') {
      const notReady = opts.ready();
      res
        .writeHead(notReady ? 503 : 200, { 'content-type': 'text/plain' })
        .end(notReady ? `${notReady}\n` : 'ready\n');
    } else if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
