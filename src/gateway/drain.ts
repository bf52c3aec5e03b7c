/**
 * Waiting for connections to finish, for a graceful stop: a gateway that is shutting down stops
 * accepting and gives its open tunnels a grace period before it cuts what is left.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/** Resolves when every socket of `groups` has closed, or after `ms`, whichever comes first. */
export function socketsClosed(groups: ReadonlyArray<ReadonlySet<Socket>>, ms: number): Promise<void> {
  const open = (): number => groups.reduce((n, g) => n + g.size, 0);
  if (ms <= 0 || open() === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    // The sets drop a socket in their own 'close' handler, registered first: check on the next turn.
    const check = (): void => {
      if (open() > 0) return;
      clearTimeout(timer);
      resolve();
    };
    for (const group of groups) for (const socket of group) socket.once('close', () => setImmediate(check));
  });
}

/** Aborts every socket still open (a cut tunnel is not a finished one); returns how many there were. */
export function cutSockets(groups: ReadonlyArray<ReadonlySet<Socket>>): number {
  let cut = 0;
  for (const group of groups) {
    for (const socket of [...group]) {
      abortSocket(socket);
      cut++;
    }
  }
  return cut;
}

/**
 * Ends a connection as an abort: RST on a plain TCP socket that has not sent its FIN, so the peer
 * cannot take a cut transfer for a complete one. After a FIN libuv cannot reset any more
 * (uv_tcp_close_reset → EINVAL), and a TLS socket has no TCP handle of its own to reset: those are
 * just destroyed.
 */
export function abortSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded || socket instanceof TLSSocket) socket.destroy();
  else socket.resetAndDestroy();
}
