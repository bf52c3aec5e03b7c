/**
 * A refused connection gets no TLS state (review: prepending a 'connection' listener does not stop
 * tls.Server's own, so a refused socket was still wrapped in a TLSSocket). The guard accepts on a
 * net.Server and hands the tls.Server only the connections it admits. Real sockets on loopback.
 */
import net from 'node:net';
import tls from 'node:tls';
import { expect, it } from 'vitest';
import { guardConnections } from './connection-guard.js';
import { waitFor } from './wait-for.js';

it('hands the TLS server only the connections within the bounds', async () => {
  const front = net.createServer();
  const secure = tls.createServer({});
  let wrapped = 0;
  secure.on('connection', () => wrapped++);
  secure.on('tlsClientError', (_err, socket) => socket.destroy());
  const refused: string[] = [];
  const guard = guardConnections(
    front,
    { maxConnections: 2, maxPerAddress: 10, maxHandshakes: 10 },
    (r) => refused.push(r),
    secure,
  );
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const { port } = front.address() as net.AddressInfo;
  const clients = Array.from({ length: 3 }, () => {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => {});
    return c;
  });
  try {
    await waitFor('one connection refused', () => refused.length === 1, 10_000);
    await waitFor('two connections handed to TLS', () => wrapped === 2, 10_000);
    expect(guard.connections()).toBe(2);
    expect(guard.handshakes()).toBe(2);
  } finally {
    for (const c of clients) c.destroy();
    guard.destroyAll();
    await new Promise<void>((resolve) => front.close(() => resolve()));
  }
  expect(wrapped).toBe(2);
});
