/**
 * When a peer's certificate chain stops being valid, and a timer for that moment. OpenSSL checks
 * validity only during the handshake: an HTTP/2 session outlives it (a gateway keeps one per peer
 * for days), so both faces arm one timer per session at the earliest notAfter of the verified chain
 * and stop opening streams on it then (security review: tunnels opened with an expired certificate).
 */

import { X509Certificate } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { splitPem } from '../identity/pem.js';

/**
 * Published when the ingress ends a peer's session at its certificate's notAfter: routine (every
 * session of a peer reaches the notAfter of the certificate it was opened with, and the peer's new
 * sessions use the rotated one), so apart from the refused handshakes (counted `session_expired`,
 * logged at info, left out of the tunnel error alert).
 */
export const SESSION_EXPIRED_CHANNEL = 'isthmus:gateway:session-expired';

export interface SessionExpiredMessage {
  peerCluster: string;
  identity?: string;
  /** The peer's `address:port`, when the socket still knows it. */
  peer?: string;
}

const sessionExpiredChannel = diagnosticsChannel.channel(SESSION_EXPIRED_CHANNEL);

export function publishSessionExpired(message: SessionExpiredMessage): void {
  if (sessionExpiredChannel.hasSubscribers) sessionExpiredChannel.publish(message);
}

/** Calls `fn` for each session expired; returns the unsubscribe. */
export function onSessionExpired(fn: (message: SessionExpiredMessage) => void): () => void {
  const listener = (message: unknown): void => fn(message as SessionExpiredMessage);
  diagnosticsChannel.subscribe(SESSION_EXPIRED_CHANNEL, listener);
  return () => diagnosticsChannel.unsubscribe(SESSION_EXPIRED_CHANNEL, listener);
}

/** Certificates walked up a chain at most: a loop or a hostile chain ends there. */
const MAX_CHAIN_DEPTH = 10;

/**
 * The earliest notAfter (ms since the epoch) of `leaf` and the issuers above it, or undefined
 * without a leaf or a date that parses. An intermediate that expires before the leaf ends the
 * chain's validity with it. Generic over Node's two certificate shapes (X509Certificate and
 * tls.DetailedPeerCertificate), whose roots name themselves as their issuer.
 */
export function chainNotAfter<C>(
  leaf: C | undefined,
  validTo: (cert: C) => string,
  issuerOf: (cert: C) => C | undefined,
): number | undefined {
  let earliest: number | undefined;
  const seen = new Set<C>();
  for (let cert = leaf; cert !== undefined && !seen.has(cert) && seen.size < MAX_CHAIN_DEPTH; ) {
    seen.add(cert);
    const at = Date.parse(validTo(cert));
    if (!Number.isNaN(at) && (earliest === undefined || at < earliest)) earliest = at;
    cert = issuerOf(cert);
  }
  return earliest;
}

/** The certificates of a PEM trust bundle (the old and the new anchor during a rotation). */
export function parseAnchors(bundlePem: string): X509Certificate[] {
  return splitPem(bundlePem).map((pem) => new X509Certificate(pem));
}

/**
 * The anchor of `anchors` that signed `cert`, matched by name and signature (an old and a new anchor
 * of one rotation share a name). A peer sends its chain without the root, and Node's X509 form of it
 * ends at the issuer, so the anchor's notAfter, which bounds the chain's validity too, comes from
 * the ingress's own trust bundle. An anchor renewed with its name and key signs what its expired
 * copy did, and a bundle may hold both (`cat old new`, which identity accepts while one is valid):
 * the one OpenSSL verified with is valid now: the latest notAfter among the signers valid at `now`
 * (a review's finding: the expired copy first ended every session as it opened; a copy not yet
 * valid, with a later notAfter, did not verify either).
 */
export function anchorOf(
  cert: X509Certificate,
  anchors: readonly X509Certificate[],
  now = Date.now(),
): X509Certificate | undefined {
  let best: X509Certificate | undefined;
  let bestValid = false;
  for (const anchor of anchors) {
    if (!cert.checkIssued(anchor) || !cert.verify(anchor.publicKey)) continue;
    const valid = Date.parse(anchor.validFrom) <= now && now <= Date.parse(anchor.validTo);
    const later = best === undefined || Date.parse(anchor.validTo) > Date.parse(best.validTo);
    if ((valid && !bestValid) || (valid === bestValid && later)) {
      best = anchor;
      bestValid = valid;
    }
  }
  return best;
}

/**
 * The earliest notAfter of a peer's chain as the ingress sees it (Node's X509 form: the leaf and
 * what the peer sent above it) and of the anchor it ends at. Node 24's TLS server keeps no peer
 * chain past the handshake, only the leaf (Node 20 keeps the issuer): then the anchor that verified
 * it is not known, and the earliest notAfter among the anchors valid now stands for it. A session
 * ended early reconnects (its next handshake verifies again); one kept past its anchor's notAfter
 * is what this timer is for.
 */
export function peerChainNotAfter(
  leaf: X509Certificate | undefined,
  anchors: readonly X509Certificate[],
  now = Date.now(),
): number | undefined {
  let reached = false;
  const notAfter = chainNotAfter(
    leaf,
    (c) => c.validTo,
    (c) => {
      const up = c.issuerCertificate ?? anchorOf(c, anchors, now);
      if (up !== undefined && anchors.includes(up)) reached = true;
      return up;
    },
  );
  if (leaf === undefined || reached) return notAfter;
  const valid = anchors.filter((a) => Date.parse(a.validFrom) <= now && now <= Date.parse(a.validTo));
  const earliest = Math.min(...valid.map((a) => Date.parse(a.validTo)));
  return notAfter === undefined || !Number.isFinite(earliest) ? notAfter : Math.min(notAfter, earliest);
}

/**
 * The longest step between two looks at the wall clock. libuv's timers run on the monotonic clock,
 * which a VM suspend or a wall-clock step does not move as notAfter (wall time) does: one timer for
 * days could fire days late. An hour bounds that delay for ~24 wake-ups a day per session.
 */
export const MAX_STEP_MS = 3_600_000;

/**
 * Calls `onExpiry` once the time is past `notAfter` (whole seconds in X.509; OpenSSL refuses a
 * certificate from the notAfter second on, by time(), which can lag Date.now() by a clock tick), in
 * a later tick even when it already is. It re-arms in steps of at most
 * MAX_STEP_MS, reading the wall clock at each. The timer keeps no process alive; the returned
 * function cancels it (call it when the session closes).
 */
export function atExpiry(notAfter: number, onExpiry: () => void, now: () => number = Date.now): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const left = notAfter - now();
    if (left < 0) {
      timer = undefined;
      onExpiry();
      return;
    }
    timer = setTimeout(arm, Math.min(left + 1, MAX_STEP_MS));
    timer.unref();
  };
  timer = setTimeout(arm, 0);
  timer.unref();
  return () => clearTimeout(timer);
}
