/** Loopback backends for the data-path tests; each tracks its sockets so tests can assert none leak. */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { LISTEN_BACKLOG } from '../tunnel-settings.js';
import { within } from './wait.js';

export interface TcpBackend {
  port: number;
  sockets: Set<net.Socket>;
  accepted: number;
  close(): Promise<void>;
}

/** A TCP server on `host` (port 0) running `handler` for each connection (half-open allowed). */
export function startTcpBackend(
  handler: (socket: net.Socket) => void,
  host = '127.0.0.1',
): Promise<TcpBackend> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    backend.accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    handler(socket);
  });
  const backend: TcpBackend = {
    port: 0,
    sockets,
    accepted: 0,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return new Promise((resolve) => {
    // The 1,000-connection tests burst past Node's default backlog (511); see LISTEN_BACKLOG.
    server.listen({ port: 0, host, backlog: LISTEN_BACKLOG }, () => {
      backend.port = (server.address() as net.AddressInfo).port;
      resolve(backend);
    });
  });
}

/** Echoes bytes back and answers the client's FIN with its own once everything was echoed. */
export const echo = (socket: net.Socket): void => {
  socket.pipe(socket);
};

/**
 * Writes `text` into an open tunnel to an `echo` backend and resolves with what comes back, once as
 * much has come as was written (within 5 s).
 */
export function echoThrough(tunnel: Duplex, text: string): Promise<string> {
  return within(
    new Promise((resolve) => {
      let got = '';
      const onData = (chunk: Buffer) => {
        got += chunk.toString();
        if (got.length >= text.length) {
          tunnel.off('data', onData);
          resolve(got);
        }
      };
      tunnel.on('data', onData);
      tunnel.write(text);
    }),
    5_000,
    `echo of ${text}`,
  );
}
