/** A stub of the local gateway's admin `/probe`: every remote gateway is alive (loopback, port 0). */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startProbeStub(): Promise<{ url: string; probes(): number; close(): Promise<void> }> {
  let probes = 0;
  const server = createServer((_req, res) => {
    probes++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ alive: true, latencyMs: 1 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    probes: () => probes,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A free loopback port for the controller's admin server (it must be known before the process starts). */
export { freePort } from '../../src/free-port.js';
