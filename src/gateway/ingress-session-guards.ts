/**
 * What the ingress watches on each admitted session: the peer's preface (a connection held unused),
 * the expiry of its certificate chain, its stream resets (rapid reset), its idleness, and the
 * HTTP/2 misconduct Node ends a session for, published once per session (diagnostics.ts).
 */

import type { ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import { constants as h2 } from 'node:http2';
import type net from 'node:net';
import { atExpiry, peerChainNotAfter, publishSessionExpired } from './certificate-expiry.js';
import {
  PREFACE_TIMEOUT,
  publishHandshakeRejected,
  publishSessionError,
  type SessionErrorReason,
} from './diagnostics.js';
import { withPeer } from './ingress-peer.js';
import type { IngressState } from './ingress-state.js';
import { wasResetHere } from './pipe.js';
import { refusalDebugData, spiffeIdOf } from './tunnel-settings.js';

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

/** Publishes, once per session, that it ended for misconduct (see SessionErrorMessage). */
export type EndSession = (reason: SessionErrorReason, code: string, error: string) => void;

/**
 * Node creates the session when the TLS handshake is done and sets no timeout until the peer's
 * preface: an admitted peer could hold any number of connections that never speak HTTP/2
 * (security review, finding 8). The first SETTINGS frame (which follows the preface) ends the wait.
 */
export function awaitPreface(state: IngressState, session: ServerHttp2Session): void {
  const timer = setTimeout(() => {
    const identity = spiffeIdOf(state.chains.get(session)?.cert);
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
  }, state.prefaceTimeoutMs);
  const settled = (): void => clearTimeout(timer);
  session.once('remoteSettings', settled);
  session.once('close', settled);
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
export function expireWithCertificate(
  state: IngressState,
  session: ServerHttp2Session,
  cluster: string,
): void {
  const cert = state.chains.get(session)?.cert;
  const notAfter = peerChainNotAfter(cert, state.anchors);
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
    state.drain(session);
  });
  session.once('close', cancel);
}

/** Publishes that `session` ended for misconduct, once per session (see EndSession). */
export function sessionEnded(
  state: IngressState,
  session: ServerHttp2Session,
  cluster: string,
  peer: string | undefined,
  reason: SessionErrorReason,
  code: string,
  error: string,
): void {
  if (state.endedSessions.has(session)) return;
  state.endedSessions.add(session);
  const identity = spiffeIdOf(state.chains.get(session)?.cert);
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
export function watchResets(state: IngressState, session: ServerHttp2Session, ended: EndSession): void {
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
    state.drainingOf.get(session)?.();
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

/**
 * A session with no open stream for `idleMs` gets a GOAWAY and closes (see
 * `limits.idleSessionTimeoutMs`).
 */
export function watchIdle(state: IngressState, session: ServerHttp2Session, idleMs: number): void {
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
    if (open === 0) state.drain(session);
  });
}
