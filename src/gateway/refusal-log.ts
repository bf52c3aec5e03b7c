/**
 * The gateway's log of the hot path's refusals (STYLE.md §9): the data path publishes on its
 * diagnostics channels (diagnostics.ts), and this logger subscribes.
 *
 * Anyone who reaches the ingress's LoadBalancer can make a TLS handshake fail, so a refused
 * handshake costs at most one warn line per address and reason a minute: the first is logged, the
 * rest are counted into the next line (`suppressed`); the metrics count every one (security
 * review, finding 7). A refusal that names an identity (a certificate of this trust anchor whose
 * cluster is not linked, or revoked) is a peer gateway an operator must see: it has a table of
 * its own, so a flood of anonymous handshakes can neither evict it nor fold it into another
 * address's window.
 */

import diagnosticsChannel from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import { type LogWindowOptions, logWindows } from '../log-windows.js';
import {
  CHANNELS,
  type ConnectErrorMessage,
  clientHungUp,
  HANDSHAKE_LIMIT,
  type HandshakeRejectedMessage,
  noClientCertificate,
  notTls,
  type SessionDialMessage,
  type SessionErrorMessage,
} from './diagnostics.js';
import { SESSION_LIVENESS_CHANNEL, type SessionLivenessMessage } from './session-liveness.js';

/** One warn line per address and reason per window (log-windows.ts), per table. */
export type RefusalLogOptions = LogWindowOptions;

/**
 * The logger subscribes to the hot path's refusals: a refused peer is a trust or Link problem an
 * operator must see (at warn, rate-limited); a client that is no peer gateway (hung up, no
 * certificate, no TLS at all) and a connection closed at the handshake limit (whose episode the
 * gateway logs once) are debug; a refused CONNECT is routine (unexported service) and debug,
 * except in the access log, which has a line for every tunnel, refused ones included. A peer's
 * session ended for a flood is logged at warn, once per session (the ingress publishes it once). A
 * failed dial to a remote gateway is debug (its tunnels fail and are counted), except one with the
 * rotated certificate while the previous one still serves: warn, once per gateway and code a window.
 */
export function logRefusals(log: Logger, accessLog: boolean, options: RefusalLogOptions = {}): () => void {
  const anonymous = refusalLimiter(options);
  const identified = refusalLimiter(options);
  const onRejected = (msg: unknown): void => {
    const m = msg as HandshakeRejectedMessage;
    // A hang-up before the handshake ends is a TCP health check (a load balancer's) or a TLS client
    // that only wanted the chain (`isthmus check` of the trust anchor): no peer was refused.
    if (clientHungUp(m))
      log.debug({ peer: m.peer, reason: m.reason }, 'connection closed during the TLS handshake');
    // A TLS client with no certificate at all (a TLS probe, a scanner) is no peer gateway.
    else if (noClientCertificate(m)) log.debug({ peer: m.peer }, 'TLS client without a certificate refused');
    // Plain HTTP, HTTP/2 in plaintext or noise (a load balancer's HTTP or TCP health check every
    // few seconds, a scanner): no TLS client at all.
    else if (notTls(m)) log.debug({ peer: m.peer, reason: m.reason }, 'connection that speaks no TLS closed');
    // Each one is counted; the episode is logged once (run-gateway.ts, onHandshakeLimit).
    else if (m.reason === HANDSHAKE_LIMIT)
      log.debug({ peer: m.peer }, 'connection closed: too many TLS handshakes');
    else {
      const limiter = m.identity === undefined ? anonymous : identified;
      const suppressed = limiter(hostOf(m.peer), m.identity, m.reason);
      if (suppressed === undefined) return;
      log.warn(
        {
          peer: m.peer,
          identity: m.identity,
          reason: m.reason,
          ...(suppressed > 0 ? { suppressed } : {}),
        },
        'peer gateway refused',
      );
    }
  };
  const onConnectError = (msg: unknown): void => {
    const m = msg as ConnectErrorMessage;
    const fields = { direction: m.direction, peer: m.peerCluster, authority: m.authority, status: m.status };
    if (accessLog) log.info({ ...fields, reason: m.reason }, 'tunnel refused');
    else log.debug(fields, m.reason);
  };
  const onSessionError = (msg: unknown): void => {
    const m = msg as SessionErrorMessage;
    log.warn(
      {
        cluster: m.peerCluster,
        identity: m.identity,
        peer: m.peer,
        reason: m.reason,
        code: m.code,
        err: m.error,
      },
      'peer gateway session ended: it flooded or broke HTTP/2',
    );
  };
  // Redialled at most every few seconds while it lasts: one line per gateway and code a window.
  const dials = logWindows(options);
  const onDial = (msg: unknown): void => {
    const m = msg as SessionDialMessage;
    if (m.ok) return;
    const fields = { gateway: m.gateway, cluster: m.peerCluster, code: m.code, reason: m.reason };
    // Tunnels still work, so nothing else says so until the previous certificate expires. Only a
    // refusal is news: a timeout or a remote shutting down on the first redial after a renewal is
    // no trust problem.
    if (!m.previousCertificateServes || !REFUSALS.has(m.code ?? ''))
      log.debug(fields, 'session to a remote gateway failed');
    else {
      const suppressed = dials(`${m.gateway}\0${m.code}`, String(m.code));
      if (suppressed === undefined) return;
      log.warn(
        { ...fields, ...(suppressed > 0 ? { suppressed } : {}) },
        "remote gateway refuses a session with this gateway's rotated certificate: tunnels go on over the session made with the previous one, until that certificate expires",
      );
    }
  };
  // The slow path only: a suspicion cleared is routine, a session dropped as hung is news.
  const onLiveness = (msg: unknown): void => {
    const m = msg as SessionLivenessMessage;
    if (m.event === 'hung')
      log.warn(
        { gateway: m.gateway, reason: m.reason },
        'remote gateway stopped answering: its unanswered tunnels are failed and its session takes no new ones (redialled after a backoff)',
      );
    else log.debug({ gateway: m.gateway, reason: m.reason }, `remote gateway session ${m.event}`);
  };
  const subscriptions: Array<[string, (msg: unknown) => void]> = [
    [CHANNELS.handshakeRejected, onRejected],
    [CHANNELS.connectError, onConnectError],
    [CHANNELS.sessionError, onSessionError],
    [SESSION_LIVENESS_CHANNEL, onLiveness],
    [CHANNELS.sessionDial, onDial],
  ];
  for (const [name, fn] of subscriptions) diagnosticsChannel.subscribe(name, fn);
  return () => {
    for (const [name, fn] of subscriptions) diagnosticsChannel.unsubscribe(name, fn);
  };
}

/** The pool's codes of a session refused by the remote, or of a remote this gateway refuses. */
const REFUSALS = new Set(['GATEWAY_REFUSED', 'GATEWAY_UNTRUSTED']);

/** `host` of `host:port` or `[v6]:port`: a client's port changes with every connection. */
function hostOf(peer: string | undefined): string {
  if (peer === undefined) return '';
  const colon = peer.lastIndexOf(':');
  return colon < 0 ? peer : peer.slice(0, colon);
}

/**
 * For each refusal: undefined when it is left out of the log, else the number left out before it
 * (since the previous line of the same address, identity and reason).
 */
function refusalLimiter(
  options: RefusalLogOptions,
): (host: string, identity: string | undefined, reason: string) => number | undefined {
  const windows = logWindows(options);
  // A NUL is in no address, identity or reason: the keys are unambiguous.
  return (host, identity, reason) => {
    const shared = `${identity ?? ''}\0${reason}`;
    return windows(`${host}\0${shared}`, shared);
  };
}
