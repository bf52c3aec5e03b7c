/**
 * Waiting for connections to finish, for a graceful stop: a gateway that is shutting down stops
 * accepting and gives its open tunnels a grace period before it cuts what is left.
 */
import type { Socket } from 'node:net';

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

/** Destroys every socket still open; returns how many there were. */
export function cutSockets(groups: ReadonlyArray<ReadonlySet<Socket>>): number {
  let cut = 0;
  for (const group of groups) {
    for (const socket of [...group]) {
      socket.destroy();
      cut++;
    }
  }
  return cut;
}
