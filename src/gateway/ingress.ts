/**
 * The ingress: an mTLS HTTP/2 server (TLS 1.3, ALPN h2, client certificate required) that answers
 * `CONNECT <svc>.<ns>.svc.<domain>:<port>` by dialing one ready endpoint of that exported Service and
 * piping bytes (shared/DESIGN.md, "The tunnel"; RFC 9113 §8.5). It dials only what `resolve`
 * returns, so it is never an open proxy. The only other request it answers is the probe path.
 */

import { constants as cryptoConstants, type X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import http2, { constants as h2 } from 'node:http2';
import net from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { hostPort, unmapped } from '../host-port.js';
import { VERSION, VERSION_HEADER } from '../version.js';
import { ConnectionCounter, type Endpoint, pickTwoChoices } from './balancer.js';
import {
  atExpiry,
  parseAnchors,
  peerChainNotAfter,
  publishSessionExpired,
  type SessionExpiredMessage,
} from './certificate-expiry.js';
import {
  HANDSHAKE_LIMIT,
  type HandshakeRejectedMessage,
  PREFACE_TIMEOUT,
  publishConnectError,
  publishHandshakeRejected,
  publishSessionError,
  publishTunnelClose,
  publishTunnelOpen,
  type SessionErrorReason,
} from './diagnostics.js';
import { cutSockets, socketsClosed } from './drain.js';
import { splice, wasResetHere } from './pipe.js';
import {
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_SESSIONS_PER_PEER,
  SESSION_LIMIT,
  sessionCapRefusal,
} from './session-caps.js';
import { socketReader } from './socket-reader.js';
import {
  ALPN_H2,
  DEFAULT_INGRESS_STREAM_WINDOW_BYTES,
  LISTEN_BACKLOG,
  MAX_FRAME_BYTES,
  MAX_SESSION_MEMORY_MB,
  peerCertificateOf,
  refusalDebugData,
  SESSION_WINDOW_BYTES,
  spiffeIdOf,
  TCP_KEEPALIVE_MS,
  type TunnelSecureContext,
  tlsContextOptions,
} from './tunnel-settings.js';
import { PeerTunnels } from './tunnel-share.js';
import { socketOptions } from './v8-spread-cliff.js';

/** What `resolve` answers: candidates to dial, or the status to refuse with. */
export type TunnelResolution =
  | { ok: true; candidates: readonly Endpoint[] }
  | { ok: false; status: 400 | 403 | 503; reason: string };

export interface IngressOptions {
  host: string;
  port: number;
  secureContext: TunnelSecureContext;
  /**
   * Decides, after the handshake, whether the peer's identity (its SPIFFE URI SAN) may open
   * tunnels; its certificate and the issuer that signed it, for revocation checks.
   */
  authorizePeer: (
    identity: string | undefined,
    cert: X509Certificate | undefined,
    issuer: X509Certificate | undefined,
  ) => { ok: true; cluster: string } | { ok: false; reason: string };
  /**
   * `:authority` and the peer's cluster (from its verified identity) → endpoints; compose
   * parseAuthority with a ServiceIndex (see resolver.ts).
   */
  resolve: (authority: string, peerCluster: string) => TunnelResolution;
  /** GET <path> over the mTLS session → 200 / 503: the only non-CONNECT request answered. */
  probe: { path: string; isReady: () => boolean };
  /**
   * Why `endpoint`, which `resolve` offered, must not be dialled after all (one of this gateway's
   * own listeners: self-dial.ts), or null. Asked before each dial: a refused candidate is skipped
   * like one that refused the connection, so a CONNECT with none left gets 502.
   */
  refuseDial?: (endpoint: Endpoint) => string | null;
  /**
   * Told when the ingress starts refusing CONNECTs at `limits.maxTunnels` (`reached`) and when it
   * is back under 90 % of it, with the CONNECTs refused meanwhile: once per episode, not per refusal.
   */
  onTunnelLimit?: (event: TunnelLimitEvent) => void;
  /**
   * Told when the ingress starts closing new connections at `limits.maxHandshakes` (`reached`) and
   * when it is back under 90 % of it, with the connections closed meanwhile: once per episode.
   */
  onHandshakeLimit?: (event: TunnelLimitEvent) => void;
  /**
   * The peer clusters admitted here (Link targets, --allow-cluster): each is a sharer of
   * `limits.maxTunnels` even before it connects, with headroom kept free for it (tunnel-share.ts).
   * Read when the peers holding sessions change and at revalidate(). Without it, only the peers
   * present share.
   */
  admittedPeers?: () => Iterable<string>;
  limits?: {
    /** A TLS client that has not finished its handshake by then is cut (slowloris). Default 10 s. */
    handshakeTimeoutMs?: number;
    /**
     * TCP connections in their TLS handshake at once; a connection beyond it is closed on arrival
     * (a flood of connections that never finish a handshake). Default 1000.
     */
    maxHandshakes?: number;
    /**
     * An admitted TLS connection that has not sent the HTTP/2 preface and its SETTINGS by then
     * (after the handshake) is cut: a peer holding connections it does not use. Default: the
     * handshake timeout.
     */
    prefaceTimeoutMs?: number;
    /**
     * Tunnels open or dialling at once; a CONNECT beyond it gets 503 (a loop of tunnels, a flood).
     * Shared among peer clusters, work-conserving: a peer past its share may use what is free but
     * a small headroom kept for each other cluster under its share (tunnel-share.ts). Default:
     * unlimited.
     */
    maxTunnels?: number;
    /**
     * Established sessions one peer cluster may hold, and all peers together; a session beyond
     * either gets GOAWAY(ENHANCE_YOUR_CALM), published as SESSION_LIMIT. Defaults 32 and 1000
     * (session-caps.ts).
     */
    maxSessionsPerPeer?: number;
    maxSessions?: number;
    /**
     * A tunnel with no byte either way for this long is cut (its backend connection reset, the
     * stream reset with CONNECT_ERROR). Default: never (idle database connections are legitimate).
     */
    tunnelIdleTimeoutMs?: number;
    /**
     * The stream window advertised to peers: a tunnel's upload per round trip, and what a loaded
     * tunnel may hold here (config.ts, --ingress-stream-window). Default 1 MiB.
     */
    streamWindowBytes?: number;
    /** SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §6.5.2). Default 1000. */
    maxConcurrentStreams?: number;
    /** SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2). Default 16 KiB. */
    maxHeaderListSize?: number;
    /** Per backend dial. Default 5 s. */
    connectTimeoutMs?: number;
    /**
     * A session with no open stream for this long gets a GOAWAY (PINGs do not count as use).
     * Default: never; `isthmus gateway` sets 10 minutes.
     */
    idleSessionTimeoutMs?: number;
  };
}

/** An episode of `limits.maxTunnels`: its start (`refused` 1), and its end with the count refused. */
export interface TunnelLimitEvent {
  reached: boolean;
  limit: number;
  refused: number;
}

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

const DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  maxHandshakes: 1000,
  maxConcurrentStreams: 1000,
  maxSessionsPerPeer: DEFAULT_MAX_SESSIONS_PER_PEER,
  maxSessions: DEFAULT_MAX_SESSIONS,
  maxHeaderListSize: 16 * 1024,
  connectTimeoutMs: 5_000,
  streamWindowBytes: DEFAULT_INGRESS_STREAM_WINDOW_BYTES,
};

const noop = (): void => {};

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

/** The peer's `address:port`, when its socket still knows it. */
function peerAddress(socket: PeerSocket): string | undefined {
  // A TLS socket's own address dies with its handle; the TCP socket under it (Node's `_parent`,
  // read at 'connection') keeps it.
  const from = socket.remoteAddress ? socket : socket._parent;
  const address = from?.remoteAddress;
  return address ? hostPort(unmapped(address), from?.remotePort ?? 0) : undefined;
}

/** Names the refused peer: an operator needs to know which (the refusal path is not hot). */
function withPeer<M extends HandshakeRejectedMessage | SessionExpiredMessage>(
  message: M,
  socket: PeerSocket,
): M {
  const peer = peerAddress(socket);
  return peer ? { ...message, peer } : message;
}

/** nghttp2's error numbers (nghttp2.h) that Node gives as `errno` of an ERR_HTTP2_ERROR. */
const NGHTTP2_ERR_FLOODED = -904;
const NGHTTP2_ERR_TOO_MANY_CONTINUATIONS = -905;

/**
 * What an admitted session's 'error' says of its peer, or undefined when it is no HTTP/2 misconduct
 * (the TCP connection reset or timed out: a network fault, or a peer that went away). Node destroys
 * the session on these: nghttp2 found its outbound queue flooded by the acknowledgements a peer that
 * never reads asks for (PING, SETTINGS), too many CONTINUATION frames, or a protocol violation; Node
 * counted too many invalid frames (empty DATA frames among them).
 */
export function sessionErrorReason(
  err: Error & { code?: string; errno?: number },
): SessionErrorReason | undefined {
  if (err.code === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES') return 'invalid_frames';
  if (err.code !== 'ERR_HTTP2_ERROR') return undefined;
  if (err.errno === NGHTTP2_ERR_FLOODED) return 'flood';
  if (err.errno === NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) return 'continuation_flood';
  return 'protocol_error';
}

/**
 * Streams a peer may reset in a burst, and how many more a second, before the ingress ends its
 * session with ENHANCE_YOUR_CALM (rapid reset, CVE-2023-44487). nghttp2 ends a server session
 * itself after 1,000 RST_STREAMs refilled at 33 a second, but with a GOAWAY Node tells no one of
 * (INTERNAL_ERROR), and the session then lingers, read no more, until the peer closes it. Half its
 * burst at its rate ends the session first, so the ingress can say so and close it; a peer that
 * trips it would have tripped nghttp2's a moment later. (A reset nghttp2 counts but Node never
 * shows, RST_STREAM(NO_ERROR) on a stream already answered, is left to nghttp2.)
 */
export const RESET_BURST = 500;
export const RESETS_PER_SECOND = 33;

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

/** Publishes, once per session, that it ended for misconduct (see SessionErrorMessage). */
type EndSession = (reason: SessionErrorReason, code: string, error: string) => void;

interface PeerSocket {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  _parent?: PeerSocket | null;
}

/**
 * The 200 that opens a tunnel carries no Date: its only reader is the peer's egress, which turns
 * it into a TCP connection, and RFC 9110 §6.6.1 asks a Date of origin servers, not of a tunnel's
 * acknowledgement. Node would format and HPACK-encode one per tunnel (respond() ~3.4 → ~1.5 µs
 * on Node 20 without it). `endStream` is given so that Node 20's copy of these options gains no
 * property (src/gateway/v8-spread-cliff.ts).
 */
const TUNNEL_ESTABLISHED = { endStream: false, sendDate: false } as const;

export async function startIngress(opts: IngressOptions): Promise<Ingress> {
  const limits = { ...DEFAULTS, ...opts.limits };
  const prefaceTimeoutMs = limits.prefaceTimeoutMs ?? limits.handshakeTimeoutMs;
  const maxTunnels = limits.maxTunnels ?? Number.POSITIVE_INFINITY;
  // An episode at the limit ends once the tunnels are down to 90 % of it, so a flood that keeps the
  // gateway at its limit is told of once, not at every tunnel that ends.
  const resumeAt = Math.floor(maxTunnels * 0.9);
  const counter = new ConnectionCounter();
  const sockets = new Set<net.Socket>();
  /** Accepted TCP connections whose TLS handshake has not finished: what `maxHandshakes` bounds. */
  const handshaking = new Set<net.Socket>();
  /** Connections closed on arrival at `maxHandshakes`: their hang-up is no client's. */
  const cutAtLimit = new WeakSet<PeerSocket>();
  const handshakesResumeAt = Math.floor(limits.maxHandshakes * 0.9);
  /** Connections closed at maxHandshakes in the current episode, or -1 outside one. */
  let refusedHandshakes = -1;
  const sessions = new Set<ServerHttp2Session>();
  /** Marks an admitted session draining (GOAWAY sent or received): the per-peer cap stops counting it. */
  const drainingOf = new WeakMap<ServerHttp2Session, () => void>();
  /** GOAWAY and close once the streams end, no longer counted against the peer's session cap. */
  const drain = (session: ServerHttp2Session): void => {
    drainingOf.get(session)?.();
    session.close();
  };
  /** Sessions and tunnels per peer cluster: the session caps and the tunnels' fair share. */
  const peers = new PeerTunnels(maxTunnels, opts.admittedPeers);
  const sessionCaps = { perPeer: limits.maxSessionsPerPeer, total: limits.maxSessions };
  let tunnels = 0;
  /** CONNECTs admitted under maxTunnels and still dialling their backend. */
  let dialling = 0;
  /** CONNECTs refused at maxTunnels in the current episode, or -1 outside one. */
  let refusedAtLimit = -1;
  let closing = false;
  /** The trust bundle, parsed: the peer's chain stops below it (see expireWithCertificate). */
  let anchors = parseAnchors(opts.secureContext.ca);

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

  server.on('connection', (socket: net.Socket) => {
    // Read once so the socket keeps it: a handshake refused after the peer reset has no address left.
    void socket.remoteAddress;
    if (handshaking.size >= limits.maxHandshakes) {
      refuseConnection(socket);
      return;
    }
    sockets.add(socket);
    handshaking.add(socket);
    socket.setNoDelay(true);
    // Peers that vanish without a FIN are found by the kernel rather than kept forever.
    socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
    socket.once('close', () => {
      sockets.delete(socket);
      handshakeEnded(socket);
    });
  });
  // The handshake is done (refused peers included: they are judged after it, on their session).
  server.on('secureConnection', (socket: TLSSocket) => {
    const tcp = (socket as PeerSocket)._parent;
    if (tcp) handshakeEnded(tcp as net.Socket);
  });
  // Handshake failures: no/foreign/expired certificate, wrong protocol version, handshake timeout.
  server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
    // One closed at maxHandshakes was published as such: its "hang-up" here is the ingress's own.
    if (!cutAtLimit.has((socket as PeerSocket)._parent ?? socket))
      publishHandshakeRejected(withPeer({ reason: handshakeFailure(err, socket) }, socket));
    socket.destroy();
  });
  // A peer that did not negotiate h2 (RFC 9113 §3.3).
  server.on('unknownProtocol', (socket: TLSSocket) => {
    publishHandshakeRejected(withPeer({ reason: 'ALPN h2 not negotiated' }, socket));
    socket.destroy();
  });
  // The peer's chain as it sent it (the issuer: the certificate after the leaf, which the revocation
  // check believes only if it could have verified the leaf), read at the handshake: OpenSSL keeps
  // the issuer only until then.
  const chains = new WeakMap<ServerHttp2Session, { cert?: X509Certificate; issuer?: X509Certificate }>();
  /** The peer's cluster, or undefined after refusing (and destroying) the session. */
  const admit = (session: ServerHttp2Session, established = false): string | undefined => {
    let chain = chains.get(session);
    if (!chain) {
      const cert = peerCertificateOf(session.socket as TLSSocket);
      chain = {
        ...(cert ? { cert } : {}),
        ...(cert?.issuerCertificate ? { issuer: cert.issuerCertificate } : {}),
      };
      chains.set(session, chain);
    }
    const identity = spiffeIdOf(chain.cert);
    const decision = opts.authorizePeer(identity, chain.cert, chain.issuer);
    if (decision.ok) return decision.cluster;
    publishHandshakeRejected(
      withPeer(
        identity === undefined ? { reason: decision.reason } : { reason: decision.reason, identity },
        session.socket,
      ),
    );
    refuseSession(session, decision.reason, established);
    return undefined;
  };
  server.on('session', (session: ServerHttp2Session) => {
    const cluster = admit(session);
    if (cluster === undefined) return;
    // The per-peer cap counts sessions not draining: one after GOAWAY lives on only for its
    // tunnels (a daily rotation's sessions with long-lived ones would otherwise lock the peer out);
    // draining ones have a bound of their own (session-caps.ts).
    const overCap = sessionCapRefusal(peers.sessionsOf(cluster), sessions.size, sessionCaps);
    if (overCap !== undefined) {
      refuseOverCap(session, overCap);
      return;
    }
    sessions.add(session);
    peers.sessionOpened(cluster);
    let draining = false;
    const drained = (): void => {
      if (draining) return;
      draining = true;
      peers.sessionDraining(cluster);
    };
    drainingOf.set(session, drained);
    session.once('goaway', drained);
    session.once('close', () => {
      sessions.delete(session);
      peers.sessionClosed(cluster, draining);
    });
    awaitPreface(session);
    // A handshake that finished after close() began: GOAWAY at once, like the sessions before it.
    if (closing) drain(session);
    // Read now: a destroyed session has no socket left to ask.
    const peer = peerAddress(session.socket as PeerSocket);
    const ended: EndSession = (reason, code, error) =>
      sessionEnded(session, cluster, peer, reason, code, error);
    // Node destroys the session on these; a flood or a broken HTTP/2 says it once, naming the peer.
    session.on('error', (err: Error & { code?: string; errno?: number }) => {
      const reason = sessionErrorReason(err);
      if (reason !== undefined) ended(reason, err.code ?? 'ERR_HTTP2_ERROR', err.message);
    });
    watchResets(session, ended);
    expireWithCertificate(session, cluster);
    session.setLocalWindowSize(SESSION_WINDOW_BYTES);
    if (limits.idleSessionTimeoutMs !== undefined) watchIdle(session, limits.idleSessionTimeoutMs);
    session.on(
      'stream',
      (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, raw: string[]) =>
        onStream(stream, headers, raw, cluster),
    );
  });

  /**
   * Node creates the session when the TLS handshake is done and sets no timeout until the peer's
   * preface: an admitted peer could hold any number of connections that never speak HTTP/2
   * (security review, finding 8). The first SETTINGS frame (which follows the preface) ends the wait.
   */
  function awaitPreface(session: ServerHttp2Session): void {
    const timer = setTimeout(() => {
      const identity = spiffeIdOf(chains.get(session)?.cert);
      publishHandshakeRejected(
        withPeer(
          identity === undefined ? { reason: PREFACE_TIMEOUT } : { reason: PREFACE_TIMEOUT, identity },
          session.socket,
        ),
      );
      session.destroy();
      // destroy() ends the TLS socket gracefully and lets the peer close its side; a peer that held
      // the connection unused gets no such grace: the TCP socket under it (Node's `_parent`, as
      // withPeer reads it) is cut now.
      (session.socket as unknown as { _parent?: net.Socket | null })._parent?.destroy();
    }, prefaceTimeoutMs);
    const settled = (): void => clearTimeout(timer);
    session.once('remoteSettings', settled);
    session.once('close', settled);
  }

  /**
   * Turns away a session beyond a session cap: published as SESSION_LIMIT (one warn line per
   * address a minute, counted `session_limit`), and the GOAWAY says why, with ENHANCE_YOUR_CALM
   * rather than INADEQUATE_SECURITY: the peer's credentials are fine, it holds too much.
   */
  function refuseOverCap(session: ServerHttp2Session, reason: string): void {
    const identity = spiffeIdOf(chains.get(session)?.cert);
    publishHandshakeRejected(
      withPeer(
        identity === undefined ? { reason: SESSION_LIMIT } : { reason: SESSION_LIMIT, identity },
        session.socket,
      ),
    );
    refuseSession(session, reason, false, h2.NGHTTP2_ENHANCE_YOUR_CALM);
  }

  /**
   * At the earliest notAfter of the peer's chain and the anchor that verified it (OpenSSL checked
   * them only at the handshake), the
   * session takes no new stream: GOAWAY(NO_ERROR), published as a session expired, not as a refused
   * peer: every session of a peer that keeps it across its own rotation gets here daily (a new
   * handshake with that certificate is refused as CERT_HAS_EXPIRED, and counted so). Its tunnels finish on their own, as Envoy's and
   * Linkerd's connections do after a certificate expires: cutting a client's database connection
   * would punish it for a rotation that failed on the peer's side, and the peer can open nothing
   * new. The peer's pool opens its next tunnels on a new session, whose handshake needs a valid
   * certificate.
   */
  function expireWithCertificate(session: ServerHttp2Session, cluster: string): void {
    const cert = chains.get(session)?.cert;
    const notAfter = peerChainNotAfter(cert, anchors);
    if (notAfter === undefined) return;
    const cancel = atExpiry(notAfter, () => {
      if (session.closed || session.destroyed) return;
      const identity = spiffeIdOf(cert);
      publishSessionExpired(
        withPeer(
          identity === undefined ? { peerCluster: cluster } : { peerCluster: cluster, identity },
          session.socket,
        ),
      );
      session.goaway(h2.NGHTTP2_NO_ERROR, 0, refusalDebugData('certificate expired'));
      drain(session);
    });
    session.once('close', cancel);
  }

  /**
   * Closes a TCP connection at `maxHandshakes`, before any TLS: a flood of connections that never
   * finish their handshake would otherwise hold a file descriptor and its TLS state each until the
   * handshake timeout. Counted (published as HANDSHAKE_LIMIT), told once per episode.
   */
  function refuseConnection(socket: net.Socket): void {
    cutAtLimit.add(socket);
    if (refusedHandshakes < 0) {
      refusedHandshakes = 1;
      opts.onHandshakeLimit?.({ reached: true, limit: limits.maxHandshakes, refused: 1 });
    } else refusedHandshakes++;
    publishHandshakeRejected(withPeer({ reason: HANDSHAKE_LIMIT }, socket));
    socket.destroy();
  }

  /** A connection left the handshake (done, or closed): the end of an episode at maxHandshakes, if one. */
  function handshakeEnded(socket: net.Socket): void {
    if (!handshaking.delete(socket)) return;
    if (refusedHandshakes < 0 || handshaking.size > handshakesResumeAt) return;
    const refused = refusedHandshakes;
    refusedHandshakes = -1;
    opts.onHandshakeLimit?.({ reached: false, limit: limits.maxHandshakes, refused });
  }

  /** Sessions whose end for misconduct was published: once per session. */
  const endedSessions = new WeakSet<ServerHttp2Session>();
  function sessionEnded(
    session: ServerHttp2Session,
    cluster: string,
    peer: string | undefined,
    reason: SessionErrorReason,
    code: string,
    error: string,
  ): void {
    if (endedSessions.has(session)) return;
    endedSessions.add(session);
    const identity = spiffeIdOf(chains.get(session)?.cert);
    publishSessionError({
      peerCluster: cluster,
      ...(identity === undefined ? {} : { identity }),
      ...(peer === undefined ? {} : { peer }),
      reason,
      code,
      error,
    });
  }

  /**
   * Counts the streams the peer resets (RST_STREAM, or a stream it gave up before the answer) in a
   * token bucket (RESET_BURST, RESETS_PER_SECOND), and ends the session with ENHANCE_YOUR_CALM once
   * it is empty: before nghttp2's own limit, whose GOAWAY no one would hear of. The GOAWAY goes out
   * at once (nghttp2 then takes no new stream and stops counting); the streams in flight may finish,
   * then the session closes. Streams this gateway resets, and those a closing session takes down,
   * are not counted.
   */
  function watchResets(session: ServerHttp2Session, ended: EndSession): void {
    let tokens = RESET_BURST;
    let last = performance.now();
    let tripped = false;
    const peerReset = (): void => {
      if (tripped || session.destroyed || session.closed) return;
      const now = performance.now();
      tokens = Math.min(RESET_BURST, tokens + ((now - last) / 1000) * RESETS_PER_SECOND);
      last = now;
      tokens -= 1;
      if (tokens >= 0) return;
      tripped = true;
      ended(
        'rapid_reset',
        'ENHANCE_YOUR_CALM',
        `the peer reset more than ${RESET_BURST} streams at once, or over ${RESETS_PER_SECOND} a second`,
      );
      // Last stream id 0: Node sends the last one nghttp2 processed, so tunnels in flight go on.
      session.goaway(h2.NGHTTP2_ENHANCE_YOUR_CALM);
      // Not from within nghttp2's callback (a stream's 'aborted' is emitted in it).
      drainingOf.get(session)?.();
      setImmediate(() => session.close());
    };
    session.on('stream', (stream: ServerHttp2Stream) => {
      let counted = false;
      const count = (): void => {
        if (counted || wasResetHere(stream)) return;
        counted = true;
        peerReset();
      };
      // Emitted as nghttp2 reads the RST_STREAM of a stream not yet answered (a CONNECT still
      // dialling), so the bucket empties before nghttp2 reads the next frames.
      stream.once('aborted', count);
      // A stream already answered (a refusal) is reset too, but closes only on the next tick.
      stream.once('close', () => {
        const code = stream.rstCode;
        if (code !== undefined && code !== h2.NGHTTP2_NO_ERROR) count();
      });
    });
  }

  /** A tunnel (open or dialling) ended: the end of an episode at maxTunnels, if it was one. */
  function tunnelEnded(cluster: string): void {
    peers.release(cluster);
    if (refusedAtLimit < 0 || tunnels + dialling > resumeAt) return;
    const refused = refusedAtLimit;
    refusedAtLimit = -1;
    opts.onTunnelLimit?.({ reached: false, limit: maxTunnels, refused });
  }

  function onStream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    raw: string[],
    cluster: string,
  ): void {
    const received = performance.now();
    stream.on('error', noop);
    // nghttp2 advertises SETTINGS_MAX_HEADER_LIST_SIZE but does not enforce it on what it receives.
    if (headerListSize(raw) > limits.maxHeaderListSize) {
      refuse(stream, 431, 'request header list too large', cluster, undefined);
      return;
    }
    const method = headers[h2.HTTP2_HEADER_METHOD];
    if (method !== 'CONNECT') {
      answerNonConnect(stream, method, headers[h2.HTTP2_HEADER_PATH]);
      return;
    }
    // RFC 9113 §8.5: a CONNECT request carries only :method and :authority (nghttp2 enforces it).
    const authority = headers[h2.HTTP2_HEADER_AUTHORITY];
    if (typeof authority !== 'string') {
      refuse(stream, 400, 'CONNECT without :authority', cluster, undefined);
      return;
    }
    const resolution = opts.resolve(authority, cluster);
    if (!resolution.ok) {
      refuse(stream, resolution.status, resolution.reason, cluster, authority);
      return;
    }
    // After resolving: the authority names an exported Service, a bounded metric label.
    const admission = peers.admit(cluster);
    if (admission === 'over_share') {
      const why = `too many tunnels from this cluster: past its share (${peers.share()} of this gateway's ${maxTunnels}), the tunnels left are kept for other clusters`;
      refuse(stream, 503, why, cluster, authority);
      return;
    }
    if (admission === 'full') {
      if (refusedAtLimit < 0) {
        refusedAtLimit = 1;
        opts.onTunnelLimit?.({ reached: true, limit: maxTunnels, refused: 1 });
      } else refusedAtLimit++;
      refuse(stream, 503, `too many tunnels: this gateway's limit is ${maxTunnels}`, cluster, authority);
      return;
    }
    dialling++;
    dial(stream, resolution.candidates, cluster, authority, '', received);
  }

  function answerNonConnect(
    stream: ServerHttp2Stream,
    method: string | string[] | undefined,
    path: unknown,
  ): void {
    if ((method === 'GET' || method === 'HEAD') && path === opts.probe.path) {
      const ready = opts.probe.isReady();
      stream.respond(
        {
          [h2.HTTP2_HEADER_STATUS]: ready ? 200 : 503,
          'content-type': 'text/plain',
          [VERSION_HEADER]: VERSION,
        },
        { endStream: method === 'HEAD' },
      );
      if (method === 'GET') stream.end(ready ? 'ready\n' : 'not ready\n');
      return;
    }
    // RFC 9110 §15.5.6: 405 carries Allow.
    stream.respond({ [h2.HTTP2_HEADER_STATUS]: 405, allow: 'CONNECT' }, { endStream: true });
  }

  function refuse(
    stream: ServerHttp2Stream,
    status: number,
    reason: string,
    cluster: string,
    authority: string | undefined,
  ): void {
    publishConnectError(
      authority === undefined
        ? { direction: 'ingress', peerCluster: cluster, status, reason }
        : { direction: 'ingress', peerCluster: cluster, authority, status, reason },
    );
    if (stream.closed || stream.destroyed) return;
    stream.respond({ [h2.HTTP2_HEADER_STATUS]: status }, { endStream: true });
  }

  /**
   * Dials a candidate chosen by P2C; on failure tries the others; 502 when none answers. `received`:
   * when the CONNECT arrived (performance.now()).
   */
  function dial(
    stream: ServerHttp2Stream,
    candidates: readonly Endpoint[],
    cluster: string,
    authority: string,
    lastError: string,
    received: number,
  ): void {
    if (stream.closed || stream.destroyed || candidates.length === 0) {
      dialling--;
      tunnelEnded(cluster);
      if (candidates.length === 0)
        refuse(stream, 502, `no endpoint accepted the connection: ${lastError}`, cluster, authority);
      return;
    }
    const index = pickTwoChoices(candidates, counter.load);
    const target = candidates[index]!;
    const refusal = opts.refuseDial?.(target) ?? null;
    if (refusal !== null) {
      const rest = candidates.filter((_, i) => i !== index);
      dial(stream, rest, cluster, authority, `${hostPort(target.host, target.port)}: ${refusal}`, received);
      return;
    }
    const reader = socketReader();
    const socket = net.connect(
      socketOptions({
        host: target.host,
        port: target.port,
        allowHalfOpen: true,
        noDelay: true,
        onread: reader.onread,
      }),
    );
    socket.setTimeout(limits.connectTimeoutMs);
    // The peer gave up while the backend was still being dialled: no 'connect' or 'error' follows.
    const onEarlyClose = (): void => {
      socket.off('error', onError);
      socket.on('error', noop);
      socket.destroy();
      dialling--;
      tunnelEnded(cluster);
    };
    const onTimeout = (): void => {
      socket.destroy(new Error(`connect to ${hostPort(target.host, target.port)} timed out`));
    };
    const onError = (err: Error): void => {
      stream.off('close', onEarlyClose);
      socket.off('timeout', onTimeout);
      const rest = candidates.filter((_, i) => i !== index);
      dial(stream, rest, cluster, authority, err.message, received);
    };
    stream.once('close', onEarlyClose);
    socket.once('timeout', onTimeout);
    socket.once('error', onError);
    socket.once('connect', () => {
      stream.off('close', onEarlyClose);
      socket.off('timeout', onTimeout);
      socket.off('error', onError);
      // Node re-arms a socket's timeout at each read and write: the tunnel's bytes both ways.
      socket.setTimeout(limits.tunnelIdleTimeoutMs ?? 0);
      if (limits.tunnelIdleTimeoutMs !== undefined) socket.once('timeout', () => socket.destroy());
      dialling--;
      if (stream.closed || stream.destroyed) {
        socket.destroy();
        tunnelEnded(cluster);
        return;
      }
      const release = counter.acquire(target);
      tunnels++;
      stream.respond({ [h2.HTTP2_HEADER_STATUS]: 200 }, TUNNEL_ESTABLISHED);
      const opened = performance.now();
      publishTunnelOpen('ingress', cluster, authority, opened - received, socket);
      splice(
        stream,
        socket,
        (result) => {
          release();
          tunnels--;
          tunnelEnded(cluster);
          publishTunnelClose({
            direction: 'ingress',
            peerCluster: cluster,
            authority,
            socket,
            endpoint: hostPort(target.host, target.port),
            durationMs: performance.now() - opened,
            ...result,
          });
        },
        reader,
      );
    });
  }

  function watchIdle(session: ServerHttp2Session, idleMs: number): void {
    let open = 0;
    session.on('stream', (stream: ServerHttp2Stream) => {
      open++;
      stream.once('close', () => open--);
    });
    // Node restarts the timer on stream activity (a probe's GET, a tunnel's frames), not on PING:
    // a pool's keepalive does not hold an unused session open. An idle session with live tunnels
    // is kept. (setTimeout's own callback is registered with `once`; activity re-arms the timer.)
    session.setTimeout(idleMs);
    session.on('timeout', () => {
      if (open === 0) drain(session);
    });
  }

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
      anchors = parseAnchors(ctx.ca);
    },
    openTunnels: () => tunnels,
    activeTunnels: () => tunnels + dialling,
    connections: () => sockets.size,
    sessions: () => sessions.size,
    revalidate() {
      peers.reshare();
      let cut = 0;
      for (const session of [...sessions]) if (admit(session, true) === undefined) cut++;
      return cut;
    },
    async close(graceMs = 0) {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // GOAWAY: a remote pool opens its next tunnels on a new session (another replica behind the
      // load balancer) while the streams in flight finish here.
      for (const session of sessions) drain(session);
      await socketsClosed([sockets], graceMs);
      const cut = cutSockets([sockets]);
      await closed;
      return cut;
    },
  };
}

/** The highest stream identifier (2^31 - 1, RFC 9113 §5.1.1). */
const MAX_STREAM_ID = 2 ** 31 - 1;

/**
 * Ends a session whose peer is not admitted, saying why in the GOAWAY's debug data (RFC 9113 §6.8):
 * the peer passed the TLS handshake, so it holds a certificate of our trust anchor, and its probe
 * and egress can then name the reason ("not linked", "revoked") instead of a closed connection,
 * which reads as a network problem. INADEQUATE_SECURITY: the credentials are not good enough here.
 */
export function refuseSession(
  session: ServerHttp2Session,
  reason: string,
  established = false,
  code: number = h2.NGHTTP2_INADEQUATE_SECURITY,
): void {
  const debug = refusalDebugData(reason);
  // A session cut after streams ran (revalidate) names the highest stream id: a later GOAWAY (the
  // one destroy() sends) may not raise it (RFC 9113 §6.8). A fresh refusal processed none.
  const lastStreamId = established ? MAX_STREAM_ID : 0;
  if (!session.destroyed && !session.closed) session.goaway(code, lastStreamId, debug);
  // destroy() sends its own final GOAWAY after the one above and flushes both before closing.
  session.destroy(undefined, code);
}

/** RFC 9113 §6.5.2: the size of a header list is the sum of name + value + 32 octets per field. */
function headerListSize(raw: string[]): number {
  let size = 0;
  for (let i = 0; i < raw.length; i++) size += raw[i]!.length + (i % 2 === 0 ? 32 : 0);
  return size;
}
