/**
 * A black-holed gateway address: TCP is accepted and nothing is ever said, so a TLS handshake there
 * hangs until the dialler's connect timeout, as when every packet is dropped (a cluster down, a
 * firewall), without depending on the host's routing.
 */
import net from 'node:net';

export interface BlackHole {
  address: { host: string; port: number };
  /** Connections accepted so far (each one a dial that will hang). */
  accepted(): number;
  close(): Promise<void>;
}

/** A black hole on `host`:`port` (0: any free port). */
export async function startBlackHole(host: string, port = 0): Promise<BlackHole> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  return {
    address: { host, port: (server.address() as net.AddressInfo).port },
    accepted: () => accepted,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
