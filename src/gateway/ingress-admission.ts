/**
 * Which sessions the ingress keeps: the peer's identity asked of `authorizePeer` after the
 * handshake (and again at revalidate), then the session caps (session-caps.ts). A refused session
 * is ended with a GOAWAY that says why.
 */

import type { ServerHttp2Session } from 'node:http2';
import { constants as h2 } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { publishHandshakeRejected } from './diagnostics.js';
import { withPeer } from './ingress-peer.js';
import type { IngressState } from './ingress-state.js';
import { SESSION_LIMIT, sessionCapRefusal } from './session-caps.js';
import { peerCertificateOf, refusalDebugData, spiffeIdOf } from './tunnel-settings.js';

/** The peer's cluster, or undefined after refusing (and destroying) the session. */
export function admitPeer(
  state: IngressState,
  session: ServerHttp2Session,
  established = false,
): string | undefined {
  let chain = state.chains.get(session);
  if (!chain) {
    const cert = peerCertificateOf(session.socket as TLSSocket);
    chain = {
      ...(cert ? { cert } : {}),
      ...(cert?.issuerCertificate ? { issuer: cert.issuerCertificate } : {}),
    };
    state.chains.set(session, chain);
  }
  const identity = spiffeIdOf(chain.cert);
  const decision = state.opts.authorizePeer(identity, chain.cert, chain.issuer);
  if (decision.ok) return decision.cluster;
  publishHandshakeRejected(
    withPeer(
      identity === undefined ? { reason: decision.reason } : { reason: decision.reason, identity },
      session.socket,
    ),
  );
  refuseSession(session, decision.reason, established);
  return undefined;
}

/**
 * Admits a new session (its peer, then the session caps) and counts it until it closes; the peer's
 * cluster, or undefined after refusing it.
 */
export function admitSession(state: IngressState, session: ServerHttp2Session): string | undefined {
  const cluster = admitPeer(state, session);
  if (cluster === undefined) return undefined;
  const { peers, sessions } = state;
  // The per-peer cap counts sessions not draining: one after GOAWAY lives on only for its
  // tunnels (a daily rotation's sessions with long-lived ones would otherwise lock the peer out);
  // draining ones have a bound of their own (session-caps.ts).
  const overCap = sessionCapRefusal(peers.sessionsOf(cluster), sessions.size, state.sessionCaps);
  if (overCap !== undefined) {
    refuseOverCap(state, session, overCap);
    return undefined;
  }
  sessions.add(session);
  peers.sessionOpened(cluster);
  let draining = false;
  const drained = (): void => {
    if (draining) return;
    draining = true;
    peers.sessionDraining(cluster);
  };
  state.drainingOf.set(session, drained);
  session.once('goaway', drained);
  session.once('close', () => {
    sessions.delete(session);
    peers.sessionClosed(cluster, draining);
  });
  return cluster;
}

/**
 * Turns away a session beyond a session cap: published as SESSION_LIMIT (one warn line per
 * address a minute, counted `session_limit`), and the GOAWAY says why, with ENHANCE_YOUR_CALM
 * rather than INADEQUATE_SECURITY: the peer's credentials are fine, it holds too much.
 */
function refuseOverCap(state: IngressState, session: ServerHttp2Session, reason: string): void {
  const identity = spiffeIdOf(state.chains.get(session)?.cert);
  publishHandshakeRejected(
    withPeer(
      identity === undefined ? { reason: SESSION_LIMIT } : { reason: SESSION_LIMIT, identity },
      session.socket,
    ),
  );
  refuseSession(session, reason, false, h2.NGHTTP2_ENHANCE_YOUR_CALM);
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
