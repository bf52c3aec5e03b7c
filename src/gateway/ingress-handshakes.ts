/**
 * The ingress's TCP connections up to the end of their TLS handshake: the `maxHandshakes` bound
 * with its episodes, and the handshakes refused (no/foreign/expired certificate, no h2), each
 * published with the reason that tells it apart (diagnostics.ts).
 */

import type { Http2SecureServer } from 'node:http2';
import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { HANDSHAKE_LIMIT, publishHandshakeRejected } from './diagnostics.js';
import { type PeerSocket, withPeer } from './ingress-peer.js';
import type { IngressState } from './ingress-state.js';
import { TCP_KEEPALIVE_MS } from './tunnel-settings.js';

/**
 * Why a TLS handshake failed, as the ingress's refusals are told apart (diagnostics.ts). A client
 * certificate OpenSSL could not verify (another anchor, expired, not yet valid) is no OpenSSL
 * error: Node's server reads the verification result once the handshake is done, keeps it as
 * `authorizationError` and destroys the socket without an error, which then closes "before the
 * handshake" as ECONNRESET, the very reason a client hanging up has. The verification code is the
 * ingress's own refusal, so it wins.
 */
function handshakeFailure(err: Error & { code?: string }, socket: TLSSocket): string {
  const unverified = socket.authorizationError as unknown;
  if (typeof unverified === 'string' && unverified !== '') return unverified;
  if (unverified instanceof Error)
    return (unverified as Error & { code?: string }).code ?? unverified.message;
  return err.code ?? err.message;
}

/** Follows the server's connections through their handshake (see the module's comment). */
export function watchHandshakes(server: Http2SecureServer, state: IngressState): void {
  const { handshaking, sockets } = state;
  server.on('connection', (socket: net.Socket) => {
    // Read once so the socket keeps it: a handshake refused after the peer reset has no address left.
    void socket.remoteAddress;
    if (handshaking.size >= state.limits.maxHandshakes) {
      refuseConnection(state, socket);
      return;
    }
    sockets.add(socket);
    handshaking.add(socket);
    socket.setNoDelay(true);
    // Peers that vanish without a FIN are found by the kernel rather than kept forever.
    socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
    socket.once('close', () => {
      sockets.delete(socket);
      handshakeEnded(state, socket);
    });
  });
  // The handshake is done (refused peers included: they are judged after it, on their session).
  server.on('secureConnection', (socket: TLSSocket) => {
    const tcp = (socket as PeerSocket)._parent;
    if (tcp) handshakeEnded(state, tcp as net.Socket);
  });
  // Handshake failures: no/foreign/expired certificate, wrong protocol version, handshake timeout.
  server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
    // One closed at maxHandshakes was published as such: its "hang-up" here is the ingress's own.
    if (!state.cutAtLimit.has((socket as PeerSocket)._parent ?? socket))
      publishHandshakeRejected(withPeer({ reason: handshakeFailure(err, socket) }, socket));
    socket.destroy();
  });
  // A peer that did not negotiate h2 (RFC 9113 §3.3).
  server.on('unknownProtocol', (socket: TLSSocket) => {
    publishHandshakeRejected(withPeer({ reason: 'ALPN h2 not negotiated' }, socket));
    socket.destroy();
  });
}

/**
 * Closes a TCP connection at `maxHandshakes`, before any TLS: a flood of connections that never
 * finish their handshake would otherwise hold a file descriptor and its TLS state each until the
 * handshake timeout. Counted (published as HANDSHAKE_LIMIT), told once per episode.
 */
function refuseConnection(state: IngressState, socket: net.Socket): void {
  state.cutAtLimit.add(socket);
  if (state.refusedHandshakes < 0) {
    state.refusedHandshakes = 1;
    state.opts.onHandshakeLimit?.({ reached: true, limit: state.limits.maxHandshakes, refused: 1 });
  } else state.refusedHandshakes++;
  publishHandshakeRejected(withPeer({ reason: HANDSHAKE_LIMIT }, socket));
  socket.destroy();
}

/** A connection left the handshake (done, or closed): the end of an episode at maxHandshakes, if one. */
function handshakeEnded(state: IngressState, socket: net.Socket): void {
  if (!state.handshaking.delete(socket)) return;
  if (state.refusedHandshakes < 0 || state.handshaking.size > state.handshakesResumeAt) return;
  const refused = state.refusedHandshakes;
  state.refusedHandshakes = -1;
  state.opts.onHandshakeLimit?.({ reached: false, limit: state.limits.maxHandshakes, refused });
}
