/**
 * The peer of an ingress connection or session, as its refusals and expiries name it: an operator
 * needs to know which.
 */

import { hostPort, unmapped } from '../host-port.js';
import type { SessionExpiredMessage } from './certificate-expiry.js';
import type { HandshakeRejectedMessage } from './diagnostics.js';

export interface PeerSocket {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  _parent?: PeerSocket | null;
}

/** The peer's `address:port`, when its socket still knows it. */
export function peerAddress(socket: PeerSocket): string | undefined {
  // A TLS socket's own address dies with its handle; the TCP socket under it (Node's `_parent`,
  // read at 'connection') keeps it.
  const from = socket.remoteAddress ? socket : socket._parent;
  const address = from?.remoteAddress;
  return address ? hostPort(unmapped(address), from?.remotePort ?? 0) : undefined;
}

/** Names the refused peer: an operator needs to know which (the refusal path is not hot). */
export function withPeer<M extends HandshakeRejectedMessage | SessionExpiredMessage>(
  message: M,
  socket: PeerSocket,
): M {
  const peer = peerAddress(socket);
  return peer ? { ...message, peer } : message;
}
