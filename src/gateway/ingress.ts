/**
 * The ingress: an mTLS HTTP/2 server (TLS 1.3, ALPN h2, client certificate required) that answers
 * `CONNECT <svc>.<ns>.svc.<domain>:<port>` by dialing one ready endpoint of that exported Service and
 * piping bytes (shared/DESIGN.md, "The tunnel"; RFC 9113 §8.5). It dials only what `resolve`
 * returns, so it is never an open proxy. The only other request it answers is the probe path.
 */

import { constants as cryptoConstants } from 'node:crypto';
import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import http2 from 'node:http2';
import type net from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { parseAnchors } from './certificate-expiry.js';
import { cutSockets, socketsClosed } from './drain.js';
import { admitPeer, admitSession } from './ingress-admission.js';
import { onStream } from './ingress-connect.js';
import { watchHandshakes } from './ingress-handshakes.js';
import type { IngressOptions } from './ingress-options.js';
import { type PeerSocket, peerAddress } from './ingress-peer.js';
import {
  awaitPreface,
  type EndSession,
  expireWithCertificate,
  sessionEnded,
  sessionErrorReason,
  watchIdle,
  watchResets,
} from './ingress-session-guards.js';
import { IngressState } from './ingress-state.js';
import {
  ALPN_H2,
  LISTEN_BACKLOG,
  MAX_FRAME_BYTES,
  MAX_SESSION_MEMORY_MB,
  SESSION_WINDOW_BYTES,
  type TunnelSecureContext,
  tlsContextOptions,
} from './tunnel-settings.js';

export { refuseSession } from './ingress-admission.js';
export type { IngressOptions, TunnelLimitEvent, TunnelResolution } from './ingress-options.js';
export { RESET_BURST, RESETS_PER_SECOND, sessionErrorReason } from './ingress-session-guards.js';

export interface Ingress {
  readonly address: { host: string; port: number };
  /** New handshakes use the new certificate; established sessions keep theirs. */
  setSecureContext(ctx: TunnelSecureContext): void;
  /**
   * Stops accepting, sends GOAWAY, waits up to `graceMs` (default 0) for tunnels to finish, then
   * cuts the rest; resolves with the number of connections cut.
   */
  close(graceMs?: number): Promise<number>;
  /** Tunnels currently piping bytes. */
  openTunnels(): number;
  /** Tunnels piping bytes or still dialling their backend: what `limits.maxTunnels` bounds. */
  activeTunnels(): number;
  /** TCP connections accepted and not yet closed (handshaking or carrying a session). */
  connections(): number;
  /** Authorised HTTP/2 sessions currently open. */
  sessions(): number;
  /**
   * Asks `authorizePeer` again about every open session (after a CRL update or an unlink) and
   * cuts those it now refuses, with their tunnels; returns how many were cut.
   */
  revalidate(): number;
}

/**
 * The ingress's TLS options: the tunnel's, and no session resumption. A resumed TLS session admits
 * a client without its certificate, whose chain and validity are then not verified again for the
 * ticket's life (security review, finding 10); a gateway keeps one long-lived session per peer, so
 * resumption saves nothing. No tickets (SSL_OP_NO_TICKET) and no session cache: Node keeps none
 * of its own (OpenSSL's internal cache is off) and the server has no 'resumeSession' listener, so
 * the stateful TLS 1.3 ticket OpenSSL still sends resumes nothing. Given again to every
 * setSecureContext, which replaces `secureOptions` with the options it is given.
 */
function ingressTlsOptions(ctx: TunnelSecureContext): SecureContextOptions {
  return { ...tlsContextOptions(ctx), secureOptions: cryptoConstants.SSL_OP_NO_TICKET };
}

export async function startIngress(opts: IngressOptions): Promise<Ingress> {
  const state = new IngressState(opts);
  const { limits, sessions, sockets } = state;

  const server = http2.createSecureServer({
    ...ingressTlsOptions(opts.secureContext),
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: [ALPN_H2],
    allowHTTP1: false,
    handshakeTimeout: limits.handshakeTimeoutMs,
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    settings: {
      enablePush: false,
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderListSize,
      initialWindowSize: limits.streamWindowBytes,
      maxFrameSize: MAX_FRAME_BYTES,
    },
  });

  watchHandshakes(server, state);
  server.on('session', (session: ServerHttp2Session) => {
    const cluster = admitSession(state, session);
    if (cluster === undefined) return;
    awaitPreface(state, session);
    // A handshake that finished after close() began: GOAWAY at once, like the sessions before it.
    if (state.closing) state.drain(session);
    // Read now: a destroyed session has no socket left to ask.
    const peer = peerAddress(session.socket as PeerSocket);
    const ended: EndSession = (reason, code, error) =>
      sessionEnded(state, session, cluster, peer, reason, code, error);
    // Node destroys the session on these; a flood or a broken HTTP/2 says it once, naming the peer.
    session.on('error', (err: Error & { code?: string; errno?: number }) => {
      const reason = sessionErrorReason(err);
      if (reason !== undefined) ended(reason, err.code ?? 'ERR_HTTP2_ERROR', err.message);
    });
    watchResets(state, session, ended);
    expireWithCertificate(state, session, cluster);
    session.setLocalWindowSize(SESSION_WINDOW_BYTES);
    if (limits.idleSessionTimeoutMs !== undefined) watchIdle(state, session, limits.idleSessionTimeoutMs);
    session.on(
      'stream',
      (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, raw: string[]) =>
        onStream(state, stream, headers, raw, cluster),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: opts.port, host: opts.host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as net.AddressInfo;

  return {
    address: { host: bound.address, port: bound.port },
    setSecureContext(ctx) {
      server.setSecureContext(ingressTlsOptions(ctx));
      state.anchors = parseAnchors(ctx.ca);
    },
    openTunnels: () => state.tunnels,
    activeTunnels: () => state.tunnels + state.dialling,
    connections: () => sockets.size,
    sessions: () => sessions.size,
    revalidate() {
      state.peers.reshare();
      let cut = 0;
      for (const session of [...sessions]) if (admitPeer(state, session, true) === undefined) cut++;
      return cut;
    },
    async close(graceMs = 0) {
      state.closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // GOAWAY: a remote pool opens its next tunnels on a new session (another replica behind the
      // load balancer) while the streams in flight finish here.
      for (const session of sessions) state.drain(session);
      await socketsClosed([sockets], graceMs);
      const cut = cutSockets([sockets]);
      await closed;
      return cut;
    },
  };
}
