/**
 * The diagnostics channels the tunnel hot path publishes to (STYLE.md §9, as undici does). The data
 * path neither logs nor counts inline: metrics and logs subscribe here. Every publish is guarded by
 * `hasSubscribers`, so an unobserved gateway pays no allocation for a message object.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { Socket } from 'node:net';

export type TunnelDirection = 'ingress' | 'egress';

/** A tunnel was established: the ingress connected to a backend, or the egress got its 200. */
export interface TunnelOpenMessage {
  direction: TunnelDirection;
  /** Cluster of the peer gateway (from its SPIFFE identity); the gateway address when unknown. */
  peerCluster: string;
  authority: string;
  /** From accepting the client's connection (egress) or receiving the CONNECT (ingress) to now. */
  connectMs: number;
  /**
   * The plain TCP side (client or backend). Subscribers may read its byte counts while the tunnel
   * is open (the metrics do at each scrape), so the data path never counts per chunk; the same
   * object comes in the tunnel's close message.
   */
  socket: Socket;
}
/** A tunnel ended; bytes are counted on the plain TCP side (client or backend socket). */
export interface TunnelCloseMessage {
  direction: TunnelDirection;
  peerCluster: string;
  authority: string;
  /** The TCP side, as in the tunnel's open message. */
  socket: Socket;
  /**
   * The plain TCP side's address: the backend endpoint (ingress), or the client (egress, only when
   * it records client addresses: see EgressListeners).
   */
  endpoint?: string;
  /** From the tunnel's establishment to its end. */
  durationMs: number;
  /** Bytes received from the TCP peer (client on egress, backend on ingress). */
  bytesIn: number;
  /** Bytes sent to the TCP peer. */
  bytesOut: number;
  /** Whether the tunnel ended with a reset (RST_STREAM or TCP RST) rather than both FINs. */
  reset: boolean;
}
/** A tunnel could not be established. `status` is the HTTP status answered (ingress) or received (egress); 0 when none. */
export interface ConnectErrorMessage {
  direction: TunnelDirection;
  peerCluster?: string;
  authority?: string;
  status: number;
  reason: string;
  /** The IsthmusError code behind an egress failure (e.g. GATEWAY_IDENTITY_MISMATCH). */
  code?: string;
}
/**
 * The ingress refused a peer: TLS handshake failure, handshake timeout or an unauthorised identity.
 * Also published when the client hung up during the handshake (`clientHungUp`), which refuses no one.
 */
export interface HandshakeRejectedMessage {
  reason: string;
  identity?: string;
  /** The peer's `address:port`, when the socket still knows it (not after a reset). */
  peer?: string;
}

/**
 * The reason published when an admitted peer's TLS connection sends no HTTP/2 preface (and
 * SETTINGS) within the ingress's preface timeout: it held a connection without using it.
 */
export const PREFACE_TIMEOUT = 'ERR_HTTP2_PREFACE_TIMEOUT';

/**
 * The reason published for a TCP connection the ingress closed on arrival because `maxHandshakes`
 * connections were already in their TLS handshake (a flood of connections that never finish one).
 */
export const HANDSHAKE_LIMIT = 'ERR_TLS_HANDSHAKE_LIMIT';

/**
 * Whether a handshake "rejection" is the client hanging up before the TLS handshake finished: the
 * ingress decided nothing, so the log takes it at debug and the metrics do not count it. Node
 * reports ECONNRESET whether the client closes with a FIN or a RST, before sending anything (a load
 * balancer's TCP health check) or after its ClientHello (a TLS client that gave up, or `isthmus
 * check` fetching the chain, which hangs up once it has it); EPIPE when the ingress was still
 * writing its answer to a client gone. Every refusal of the ingress's own has another reason: an
 * OpenSSL code naming the certificate problem, ERR_TLS_HANDSHAKE_TIMEOUT, or authorizePeer's.
 * A client that refuses *our* certificate also just hangs up (Node's TLS client checks the chain
 * once the handshake is done, then destroys the socket without an alert): its own egress counts that
 * failed tunnel, under the cluster it dialled.
 */
export function clientHungUp(message: HandshakeRejectedMessage): boolean {
  return message.reason === 'ECONNRESET' || message.reason === 'EPIPE';
}
/**
 * Whether the ingress refused a TLS client because it sent no certificate at all (OpenSSL's
 * "peer did not return a certificate", under `rejectUnauthorized`): `openssl s_client`, a blackbox
 * TLS probe, a load balancer's TLS health check, a scanner. No peer gateway does that, since every
 * gateway presents its certificate, so the metrics count it apart (`no_client_certificate`, which
 * the tunnel error alert leaves out) and the log takes it at debug. A certificate that fails the
 * checks (foreign anchor, expired, revoked, not a linked gateway) is still a refused peer.
 */
export function noClientCertificate(message: HandshakeRejectedMessage): boolean {
  return message.reason === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE';
}
/**
 * OpenSSL's reasons for a connection whose first bytes are no TLS record at all: a plain-HTTP
 * request (ERR_SSL_HTTP_REQUEST; ERR_SSL_HTTPS_PROXY_REQUEST for a proxy's CONNECT), HTTP/2 in
 * plaintext, noise or a TCP health check's payload (ERR_SSL_WRONG_VERSION_NUMBER: no TLS record
 * header), or a record header whose length no TLS record has (ERR_SSL_PACKET_LENGTH_TOO_LONG under
 * Node 20's OpenSSL, ERR_SSL_DATA_LENGTH_TOO_LONG under Node 22's and 24's).
 * OpenSSL raises them on the first record, before any handshake message is read.
 */
const NOT_TLS_REASONS: ReadonlySet<string> = new Set([
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_HTTPS_PROXY_REQUEST',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_DATA_LENGTH_TOO_LONG',
]);

/**
 * Whether the ingress refused a connection that does not speak TLS at all (`NOT_TLS_REASONS`): a
 * load balancer's plain-HTTP or TCP-payload health check pointed at the TLS port, a scanner. No
 * peer gateway does that, so, like a TLS client without a certificate, the metrics count it apart
 * (`not_tls`, which the tunnel error alert leaves out) and the log takes it at debug. A TLS client
 * that speaks an older version (TLS 1.2) is refused later, with another reason, and still counts.
 */
export function notTls(message: HandshakeRejectedMessage): boolean {
  return NOT_TLS_REASONS.has(message.reason);
}

/** A probe of a remote gateway over the tunnel path finished. */
export interface ProbeMessage {
  gateway: string;
  alive: boolean;
  latencyMs: number;
  error?: string;
  /** The address that answered, when another than `gateway` the Link names (gateway-failover.ts). */
  via?: string;
}

/**
 * The egress pool's dial of a session to a remote gateway ended: established (the remote answered a
 * PING), or failed (refused, untrusted, unreachable, timed out). Slow path: once per session.
 */
export interface SessionDialMessage {
  /** The remote gateway's `address:port`. */
  gateway: string;
  /** The cluster the tunnels that asked for it expect there (the mirror's), when one did. */
  peerCluster?: string;
  ok: boolean;
  /** The failure's IsthmusError code (GATEWAY_REFUSED, GATEWAY_UNTRUSTED, GATEWAY_CONNECT_TIMEOUT, …). */
  code?: string;
  reason?: string;
  /**
   * A session made with this gateway's previous certificate still carries the remote's tunnels (the
   * dial was one with the rotated certificate, behind it): a failure then costs no tunnel yet, but
   * every tunnel fails once that certificate expires.
   */
  previousCertificateServes: boolean;
}

/** Why the session of an admitted peer ended for misbehaviour: the `reason` label, a bounded set. */
export type SessionErrorReason =
  | 'rapid_reset'
  | 'flood'
  | 'continuation_flood'
  | 'invalid_frames'
  | 'protocol_error';

/**
 * The HTTP/2 session of an admitted peer gateway was ended for a flood or a protocol violation, by
 * nghttp2 and Node (a PING, SETTINGS or CONTINUATION flood, empty DATA frames) or by the ingress
 * (streams reset faster than nghttp2's rapid-reset limit allows). Published once per session.
 */
export interface SessionErrorMessage {
  peerCluster: string;
  identity?: string;
  /** The peer's `address:port`. */
  peer?: string;
  reason: SessionErrorReason;
  /**
   * The error as Node names it (ERR_HTTP2_ERROR, ERR_HTTP2_TOO_MANY_INVALID_FRAMES), or for a
   * session the ingress ended itself, the GOAWAY code it sent (ENHANCE_YOUR_CALM).
   */
  code: string;
  /** nghttp2's or Node's own words for it. */
  error: string;
}

export const CHANNELS = {
  tunnelOpen: 'isthmus:gateway:tunnel-open',
  tunnelClose: 'isthmus:gateway:tunnel-close',
  connectError: 'isthmus:gateway:connect-error',
  handshakeRejected: 'isthmus:gateway:handshake-rejected',
  probe: 'isthmus:gateway:probe',
  sessionError: 'isthmus:gateway:session-error',
  sessionDial: 'isthmus:gateway:session-dial',
} as const;

export const tunnelOpenChannel = diagnosticsChannel.channel(CHANNELS.tunnelOpen);
export const tunnelCloseChannel = diagnosticsChannel.channel(CHANNELS.tunnelClose);
export const connectErrorChannel = diagnosticsChannel.channel(CHANNELS.connectError);
export const handshakeRejectedChannel = diagnosticsChannel.channel(CHANNELS.handshakeRejected);
export const probeChannel = diagnosticsChannel.channel(CHANNELS.probe);
export const sessionErrorChannel = diagnosticsChannel.channel(CHANNELS.sessionError);
export const sessionDialChannel = diagnosticsChannel.channel(CHANNELS.sessionDial);

export function publishTunnelOpen(
  direction: TunnelDirection,
  peerCluster: string,
  authority: string,
  connectMs: number,
  socket: Socket,
): void {
  if (tunnelOpenChannel.hasSubscribers) {
    tunnelOpenChannel.publish({
      direction,
      peerCluster,
      authority,
      connectMs,
      socket,
    } satisfies TunnelOpenMessage);
  }
}

export function publishTunnelClose(message: TunnelCloseMessage): void {
  if (tunnelCloseChannel.hasSubscribers) tunnelCloseChannel.publish(message);
}

export function publishConnectError(message: ConnectErrorMessage): void {
  if (connectErrorChannel.hasSubscribers) connectErrorChannel.publish(message);
}

export function publishHandshakeRejected(message: HandshakeRejectedMessage): void {
  if (handshakeRejectedChannel.hasSubscribers) handshakeRejectedChannel.publish(message);
}

export function publishSessionError(message: SessionErrorMessage): void {
  if (sessionErrorChannel.hasSubscribers) sessionErrorChannel.publish(message);
}

export function publishSessionDial(message: SessionDialMessage): void {
  if (sessionDialChannel.hasSubscribers) sessionDialChannel.publish(message);
}

export function publishProbe(message: ProbeMessage): void {
  if (probeChannel.hasSubscribers) probeChannel.publish(message);
}
