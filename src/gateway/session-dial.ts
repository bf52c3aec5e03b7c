/**
 * Dialling one pooled session to a remote gateway (session-pool.ts) and what ends it: TLS with our
 * own checks of the remote's identity and chain, established once the peer answers a PING, failed
 * with the reason the remote gave (GOAWAY) or the handshake implies; then the waiters are served,
 * sessions with an older certificate retired, and the session retired at its chain's expiry or
 * dropped when its peer stops answering (session-liveness.ts). The pool's state is reached through
 * `Dialer`, which the pool builds once.
 */
import { X509Certificate } from 'node:crypto';
import type { ClientHttp2Session } from 'node:http2';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { IsthmusError } from '../errors.js';
import { atExpiry, chainNotAfter } from './certificate-expiry.js';
import { publishSessionDial } from './diagnostics.js';
import { failWaiters, type Remote } from './pool-remotes.js';
import type { PooledSession, SessionCallback } from './pooled-session.js';
import { type Backoff, backOff } from './remote-backoff.js';
import { SessionLiveness } from './session-liveness.js';
import type { SessionPoolOptions } from './session-pool-options.js';
import {
  atCapacity,
  classify,
  hungMarksRemote,
  maxStreams,
  notLinked,
  refusedAtHandshake,
  untrusted,
} from './session-support.js';
import {
  ALPN_H2,
  clusterOfIdentity,
  MAX_FRAME_BYTES,
  MAX_SESSION_MEMORY_MB,
  refusalReason,
  refusesCapacity,
  SESSION_WINDOW_BYTES,
  STREAM_WINDOW_BYTES,
  spiffeIdOf,
  spiffeIdOfSan,
  TCP_KEEPALIVE_MS,
  type TunnelSecureContext,
  tlsContextOptions,
} from './tunnel-settings.js';

/** What a dial needs of the pool: its settings, and hooks back into it (its backoff's too). */
export interface Dialer extends Backoff {
  /** TCP + TLS + the peer's answer to the first PING. */
  readonly connectTimeoutMs: number;
  /** How often an established session is PINGed; 0: never. */
  readonly keepaliveMs: number;
  readonly liveness: { suspectAfterMs: number; pingTimeoutMs: number };
  /** The pool's options, read at each dial. */
  readonly opts: Pick<SessionPoolOptions, 'expectPeer'>;
  /** Sessions dialled but not yet established: close() must end them too, or they outlive the pool. */
  readonly dialing: Map<ClientHttp2Session, PooledSession>;
  /** Why the remote's certificate must be refused though its chain verified (revoked), or undefined. */
  refusal(leaf: X509Certificate | undefined, issuer: X509Certificate | undefined): string | undefined;
  /** A session at `remote` for `waiter`, ignoring the backoff: the one just established is full. */
  sessionFor(remote: Remote, waiter: SessionCallback): void;
}

/**
 * Dials a session to `remote` with `ctx` (the pool's context `generation`); the pool has set
 * `remote.connecting`, and this clears it once the dial ends.
 */
export function dialSession(
  remote: Remote,
  ctx: TunnelSecureContext,
  generation: number,
  dialer: Dialer,
): void {
  const { host, port } = remote.address;
  const expectPeer = dialer.opts.expectPeer;
  const authorityHost = net.isIPv6(host) ? `[${host}]` : host;
  const chain: PooledSession['chain'] = {};
  const session = http2.connect(`https://${authorityHost}:${port}`, {
    createConnection: () => {
      const socket = tls.connect({
        host,
        port,
        ...tlsContextOptions(ctx),
        ALPNProtocols: [ALPN_H2],
        // SNI is for names only (RFC 6066 §3).
        ...(net.isIP(host) === 0 ? { servername: host } : {}),
        // The chain is verified against the anchor by OpenSSL; the name check is the SPIFFE identity.
        checkServerIdentity: (_name, cert) => {
          const identity = spiffeIdOfSan(cert.subjectaltname);
          // Our own checks refuse the remote (GATEWAY_UNTRUSTED): the TLS client destroys the
          // socket with this very error, so classify() keeps it.
          if (expectPeer && !expectPeer(identity))
            return untrusted(remote.label, `unexpected gateway identity ${identity ?? '(none)'}`);
          // Node passes the detailed form here: the chain as the peer sent it, through issuerCertificate
          // (matched by Name, not the one OpenSSL verified with: the revocation check sees to that).
          const issuer = (cert as tls.DetailedPeerCertificate).issuerCertificate;
          chain.leaf = x509Of(cert);
          chain.issuer = x509Of(issuer);
          const notAfter = chainNotAfter(
            cert as tls.DetailedPeerCertificate,
            (c) => c.valid_to,
            (c) => c.issuerCertificate,
          );
          if (notAfter !== undefined) chain.notAfter = notAfter;
          const revoked = dialer.refusal(chain.leaf, chain.issuer);
          return revoked === undefined ? undefined : untrusted(remote.label, revoked);
        },
      });
      socket.setNoDelay(true);
      socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
      return socket;
    },
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    settings: { enablePush: false, initialWindowSize: STREAM_WINDOW_BYTES, maxFrameSize: MAX_FRAME_BYTES },
  });
  const pooled: PooledSession = {
    session,
    chain,
    streams: 0,
    draining: false,
    generation,
    peer: remote.label,
    liveness: new SessionLiveness(session, remote.label, dialer.liveness, (err, fatal) =>
      hung(remote, pooled, err, fatal, dialer),
    ),
    unanswered: new Set(),
    dialledAtCut: false,
  };
  dialer.dialing.set(session, pooled);
  let established = false;
  /** Our side of the TLS handshake completed ('connect'): the remote has our certificate. */
  let handshaken = false;
  const timer = setTimeout(() => {
    session.destroy(
      new IsthmusError(
        'GATEWAY_CONNECT_TIMEOUT',
        `no session with ${remote.label} within ${dialer.connectTimeoutMs} ms`,
      ),
    );
  }, dialer.connectTimeoutMs);
  let failure: Error | undefined;
  /** Set when the peer's cluster was unlinked while the session was dialled: not the remote's failure. */
  let unlinkedMeanwhile: IsthmusError | undefined;
  session.on('error', (err: Error) => {
    failure ??= err;
  });
  session.once('connect', () => {
    session.setLocalWindowSize(SESSION_WINDOW_BYTES);
    const socket = session.socket as tls.TLSSocket;
    const cert = socket.getPeerX509Certificate();
    const cluster = clusterOfIdentity(spiffeIdOf(cert));
    pooled.peer = cluster ?? remote.label;
    if (cluster !== undefined) pooled.cluster = cluster;
  });
  // Established = the peer answered a PING. Its SETTINGS are no proof: a server sends them as the
  // session starts, before it has looked at our certificate, and then may still turn us away (and
  // with TLS 1.3 the client's handshake completes before the server has verified the client).
  session.once('connect', () => {
    handshaken = true;
    session.ping((err) => {
      if (err || session.destroyed || session.closed) return; // 'close' reports the failure
      // cutUnlinked could not cut it (its peer was not known yet): no tunnel may use it. Later
      // dials name a linked cluster (session() refuses the others) or none (the caller's choice).
      if (pooled.dialledAtCut && dialer.unlinked(pooled.cluster)) {
        unlinkedMeanwhile = notLinked(remote.label, pooled.cluster);
        session.destroy();
        return;
      }
      dialer.dialing.delete(session);
      established = true;
      clearTimeout(timer);
      remote.connecting = false;
      remote.failures = 0;
      remote.lastError = undefined;
      clearTimeout(remote.redial);
      remote.redial = undefined;
      published(remote, pooled);
      remote.sessions.push(pooled);
      if (dialer.keepaliveMs > 0) pooled.liveness.keepAlive(dialer.keepaliveMs);
      retireAtExpiry(pooled);
      retireOlder(remote, pooled.generation);
      const waiters = remote.waiters.splice(0);
      // More waiters than free slots: the rest get another session through session().
      for (const w of waiters) {
        if (pooled.streams < maxStreams(session) && !pooled.draining) w(null, pooled);
        else dialer.sessionFor(remote, w);
      }
    });
  });
  session.once('goaway', (code: number, _lastStreamId: number, debug?: Buffer) => {
    pooled.draining = true;
    // The remote ingress turned us away and said why (refuseSession): that is the failure to
    // report, before the session error that follows it.
    const refused = refusalReason(code, debug);
    if (refused !== undefined)
      failure ??= refusesCapacity(code)
        ? atCapacity(remote.label, refused)
        : new IsthmusError(
            'GATEWAY_REFUSED',
            `gateway ${remote.label} refused this cluster's gateway: ${refused}`,
          );
    // Any other GOAWAY before the PING answer (a remote shutting down) is no certificate
    // refusal, which a close right after the handshake is taken for (refusedAtHandshake).
    else if (!established)
      failure ??= new IsthmusError(
        'GATEWAY_UNREACHABLE',
        `gateway ${remote.label} ended the session before it was established (GOAWAY code ${code}): it is shutting down or draining`,
      );
  });
  session.once('close', () => {
    clearTimeout(timer);
    dialer.dialing.delete(session);
    pooled.draining = true;
    const i = remote.sessions.indexOf(pooled);
    if (i >= 0) remote.sessions.splice(i, 1);
    if (established) return;
    remote.connecting = false;
    if (unlinkedMeanwhile) {
      // No backoff: the remote answered, and a relink must find no stale error in its way.
      published(remote, pooled, unlinkedMeanwhile);
      failWaiters(remote, unlinkedMeanwhile);
      return;
    }
    backOff(
      remote,
      classify(failure ?? (handshaken ? refusedAtHandshake(remote.label) : undefined), remote.label),
      dialer,
    );
    published(remote, pooled, remote.lastError);
    failWaiters(remote, remote.lastError!);
  });
}

/** Publishes how the dial of `pooled` ended (before it joins or leaves `remote.sessions`). */
function published(remote: Remote, pooled: PooledSession, err?: IsthmusError): void {
  publishSessionDial({
    gateway: remote.label,
    ...(remote.cluster === undefined ? {} : { peerCluster: remote.cluster }),
    ok: err === undefined,
    ...(err === undefined ? {} : { code: err.code, reason: err.message }),
    previousCertificateServes: remote.sessions.some((s) => s.generation < pooled.generation && !s.draining),
  });
}

/** Drains `remote`'s sessions made with a certificate older than `generation` (setSecureContext). */
function retireOlder(remote: Remote, generation: number): void {
  for (const pooled of remote.sessions) {
    if (pooled.generation >= generation || pooled.draining) continue;
    pooled.draining = true;
    if (!pooled.session.closed && !pooled.session.destroyed) pooled.session.close();
  }
}

/**
 * Once the remote's chain has expired (OpenSSL checked it only at the handshake) the session takes
 * no new tunnel and closes with its last one, as after a GOAWAY: the next tunnel dials, and that
 * handshake succeeds (the remote rotated) or fails on its own (OpenSSL's clock, a tick coarser, may
 * still pass it for a few ms; that session is retired as it is established).
 */
function retireAtExpiry(pooled: PooledSession): void {
  if (pooled.chain.notAfter === undefined) return;
  const cancel = atExpiry(pooled.chain.notAfter, () => {
    pooled.draining = true;
    if (!pooled.session.closed && !pooled.session.destroyed) pooled.session.close();
  });
  pooled.session.once('close', cancel);
}

/**
 * `pooled`'s peer stopped answering. Draining first: no tunnel picks the session from now on. The
 * keepalive's verdict (`fatal`) destroys it with every stream on it. Suspicion's fails only its
 * CONNECTs still unanswered and closes it gracefully: established tunnels go on (a healthy peer
 * may stall for seconds), it ends with its last stream (as after a GOAWAY), and the keepalive
 * still destroys it if the peer stays silent.
 */
function hung(
  remote: Remote,
  pooled: PooledSession,
  err: IsthmusError,
  fatal: boolean,
  dialer: Dialer,
): void {
  const otherReady = remote.sessions.some((o) => o !== pooled && !o.draining);
  if (hungMarksRemote({ draining: pooled.draining, otherReady })) backOff(remote, err, dialer);
  pooled.draining = true;
  if (fatal) {
    pooled.session.destroy(err);
    return;
  }
  const unanswered = [...pooled.unanswered];
  pooled.unanswered.clear();
  for (const failConnect of unanswered) failConnect(err);
  if (!pooled.session.closed && !pooled.session.destroyed) pooled.session.close();
}

/** A PeerCertificate's DER as an X509Certificate (undefined when absent or self-referencing). */
function x509Of(cert: tls.PeerCertificate | undefined): X509Certificate | undefined {
  return cert?.raw ? new X509Certificate(cert.raw) : undefined;
}
