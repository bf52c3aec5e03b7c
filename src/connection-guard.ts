/**
 * Bounds on a server's TCP connections: how many are open, how many from one client address, and
 * (a TLS server) how many are still in their handshake. A connection beyond a bound is closed on
 * arrival, before TLS allocates anything for it: a flood of connections that never finish (or never
 * start) a handshake would otherwise hold a file descriptor and TLS state each until the handshake
 * timeout, and unused connections until their idle timeout. The decision is a pure function
 * (connectionRefusal); guardConnections applies it to a net.Server or a tls.Server.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { unmapped } from './host-port.js';

export interface ConnectionLimits {
  /** Connections open at once (handshaking or carrying a session). */
  maxConnections: number;
  /** Connections open at once from one client address. */
  maxPerAddress: number;
  /** Connections still in their TLS handshake: give it for a tls.Server only. */
  maxHandshakes?: number;
}

/** Which bound a refused connection met (a metric label: keep the set small and fixed). */
export type ConnectionRefusal = 'connections' | 'per_address' | 'handshakes';

export interface ConnectionLoad {
  open: number;
  /** Of them, those from the new connection's address. */
  fromAddress: number;
  handshaking: number;
}

/** Whether a new connection, arriving at `load`, is refused, and at which bound. */
export function connectionRefusal(
  load: ConnectionLoad,
  limits: ConnectionLimits,
): ConnectionRefusal | undefined {
  if (load.open >= limits.maxConnections) return 'connections';
  if (load.fromAddress >= limits.maxPerAddress) return 'per_address';
  if (limits.maxHandshakes !== undefined && load.handshaking >= limits.maxHandshakes) return 'handshakes';
  return undefined;
}

export interface ConnectionGuard {
  /** Connections admitted and not yet closed. */
  connections(): number;
  /** Of them, those whose TLS handshake has not finished (0 on a plaintext server). */
  handshakes(): number;
  /** Destroys every connection still open (at shutdown, after a graceful close had its chance). */
  destroyAll(): void;
}

/**
 * Applies `limits` to every connection `server` accepts. `onRefused` is told of each connection
 * closed on arrival, with the client's address. With `secure`, `server` is a plain net.Server that
 * accepts, and only the connections admitted are handed to `secure` (emitted as its 'connection'),
 * whose 'secureConnection' ends a connection's handshake: a refused one never gets TLS state
 * (prepending a listener to a tls.Server would not stop its own 'connection' listener).
 * `maxHandshakes` needs `secure`.
 */
export function guardConnections(
  server: net.Server,
  limits: ConnectionLimits,
  onRefused?: (reason: ConnectionRefusal, address: string) => void,
  secure?: tls.Server,
): ConnectionGuard {
  const perAddress = new Map<string, number>();
  /** Connections in their handshake, by `address|port`: the one key a TLS socket shares with its TCP socket. */
  const handshaking = new Set<string>();
  const open = new Set<net.Socket>();
  const tracksHandshakes = secure !== undefined && limits.maxHandshakes !== undefined;
  // First: the server's other 'connection' listeners see a refused connection already destroyed.
  server.prependListener('connection', (socket: net.Socket) => {
    const address = unmapped(socket.remoteAddress ?? '');
    const fromAddress = perAddress.get(address) ?? 0;
    const refusal = connectionRefusal(
      { open: open.size, fromAddress, handshaking: handshaking.size },
      limits,
    );
    if (refusal !== undefined) {
      socket.destroy();
      onRefused?.(refusal, address);
      return;
    }
    open.add(socket);
    perAddress.set(address, fromAddress + 1);
    const key = endpointKey(socket);
    if (tracksHandshakes) handshaking.add(key);
    socket.once('close', () => {
      open.delete(socket);
      handshaking.delete(key);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left === 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
    secure?.emit('connection', socket);
  });
  if (tracksHandshakes)
    secure.on('secureConnection', (socket: tls.TLSSocket) => handshaking.delete(endpointKey(socket)));
  return {
    connections: () => open.size,
    handshakes: () => handshaking.size,
    destroyAll: () => {
      for (const socket of open) socket.destroy();
    },
  };
}

function endpointKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}
