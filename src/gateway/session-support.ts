/**
 * Session-level helpers of the pool: what a tunnel does without a session, refused-stream marking,
 * the refusal of an unlinked cluster and failure classification. Kept apart so session-pool.ts
 * holds only the pooling logic.
 */
import type { ClientHttp2Session } from 'node:http2';
import { IsthmusError } from '../errors.js';
import { isHung } from './session-liveness.js';

/**
 * What a tunnel does when its remote has no session with a free slot. `wait`: join the dial (one
 * is started if none runs). `fail`: get the remote's last error at once, during its backoff.
 * `dial-behind`: fail at once too, and start a dial for the tunnels after it. A remote whose last
 * attempt hung (a session that stopped answering PINGs, a dial that ran into the connect timeout)
 * would most likely keep the next dial for the whole connect timeout (5 s), so while it is being
 * re-established no tunnel waits on that dial. Such a remote is also redialled in the background
 * when its backoff ends (see MAX_IDLE_REDIALS), so after its recovery the next tunnel finds a
 * session instead of this stale error. After a fast failure (refused, reset) tunnels wait for the
 * next dial, which ends quickly either way. Probes ignore all this: they are how a recovered
 * remote is noticed.
 */
export function noSessionStep(s: {
  lastError: IsthmusError | undefined;
  connecting: boolean;
  backoffOver: boolean;
  ignoreBackoff: boolean;
}): 'wait' | 'fail' | 'dial-behind' {
  if (s.ignoreBackoff || s.lastError === undefined) return 'wait';
  const hung = isHung(s.lastError) || s.lastError.code === 'GATEWAY_CONNECT_TIMEOUT';
  if (s.connecting) return hung ? 'fail' : 'wait';
  if (!s.backoffOver) return 'fail';
  return hung ? 'dial-behind' : 'wait';
}

/**
 * Background redials of a hung remote (each up to the connect timeout, 5 s, plus the backoff)
 * without any tunnel or probe asking for it meanwhile; then it waits for one, as before. Bounded,
 * so an address named once (an admin port's `/probe?gateway=`) is not dialled forever.
 */
export const MAX_IDLE_REDIALS = 10;

/**
 * Whether a session found hung marks its whole remote hung (its backoff, fast failures). Not when
 * the session was already draining (GOAWAY, an earlier verdict) or another session to the remote
 * takes tunnels: that one answers, so the address does.
 */
export function hungMarksRemote(s: { draining: boolean; otherReady: boolean }): boolean {
  return !s.draining && !s.otherReady;
}

/** Marks an error whose stream the peer refused unprocessed. */
export const REFUSED_STREAM = Symbol('REFUSED_STREAM');
/** Bounded, so a peer that refuses every stream cannot keep us looping. */
export const MAX_REFUSED_RETRIES = 2;
/**
 * A probe refused unprocessed is asked again once, within its own timeout: a draining replica's
 * GOAWAY is no failure of the remote (review: each one counted towards failureThreshold), and a
 * second refusal in a row is worth reporting.
 */
export const MAX_PROBE_REFUSED_RETRIES = 1;

export function isRefusedStream(err: IsthmusError): boolean {
  return err.cause === REFUSED_STREAM;
}

export function maxStreams(session: ClientHttp2Session): number {
  return session.remoteSettings.maxConcurrentStreams ?? 100;
}

/**
 * OpenSSL's verification errors (Node's codes for X509_V_ERR_*): the remote's chain failed this
 * gateway's own trust checks (another anchor, expired, not yet valid, a bad signature), which is
 * no network problem.
 */
const UNTRUSTED_CHAIN = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

/** The pool's error for a remote whose certificate this gateway refuses: `reason` says why. */
export function untrusted(label: string, reason: string, cause?: unknown): IsthmusError {
  return new IsthmusError('GATEWAY_UNTRUSTED', `gateway ${label} is not trusted: ${reason}`, { cause });
}

/**
 * A remote that closed the connection after our TLS handshake completed and before it answered the
 * PING. In TLS 1.3 the client's handshake completes before the server has verified the client's
 * certificate; a server that refuses it sends an alert that Node's TLS client reads as a plain end
 * of stream (no error). An ingress that refuses an admitted peer says why in a GOAWAY instead
 * (refusalReason), so a silent close right after the handshake is OpenSSL's refusal of this
 * gateway's chain (review: reported as "unreachable: connection closed during setup", which sent
 * operators of a trust-anchor rotation done out of order to look at the network).
 */
export function refusedAtHandshake(label: string): IsthmusError {
  return new IsthmusError(
    'GATEWAY_REFUSED',
    `gateway ${label} refused this cluster's gateway certificate at the TLS handshake (TLS 1.3 gives the client no reason; its log line "peer gateway refused" does)`,
  );
}

/**
 * A remote replica at its session cap (GOAWAY ENHANCE_YOUR_CALM, "too many sessions": refusesCapacity)
 * turned this gateway away: GATEWAY_UNREACHABLE, as a replica ending the session before it was
 * established is, not GATEWAY_REFUSED. No failure of trust (review: counted as one, it ended the
 * walk at the mirror's address, whose replica was full while another address served, and was
 * remembered as distrust): the walk moves on to the Link's other addresses (walkStep), the address
 * backs off, and metrics and `isthmus check` do not call it a refusal of our certificate. The text
 * avoids "refused this cluster's gateway", which `isthmus check` reads as that refusal.
 */
export function atCapacity(label: string, reason: string): IsthmusError {
  return new IsthmusError(
    'GATEWAY_UNREACHABLE',
    `gateway ${label} is at its session cap and turned this cluster's gateway away: ${reason}`,
  );
}

/**
 * The pool's refusal of a tunnel, probe or session to the gateway of `cluster`, which no Link
 * names any more (SessionPool.cutUnlinked). Failed fast like an unreachable remote, without a dial;
 * the message names the unlink, not the network, and so does the metric (`not_linked`, which the
 * tunnel error alert leaves out: clients of the cluster's mirrors meet it until the egress
 * listeners close, and an unlink is the operator's decision, no failure).
 */
export function notLinked(label: string, cluster: string): IsthmusError {
  return new IsthmusError(
    'GATEWAY_NOT_LINKED',
    `no session with gateway ${label}: cluster "${cluster}" is not linked (no Link in the system namespace names it)`,
  );
}

/**
 * The error of a session that failed before it was established. Isthmus errors as they are (the
 * remote's refusal, our deadline, our checkServerIdentity's GATEWAY_UNTRUSTED); a chain OpenSSL
 * refused is GATEWAY_UNTRUSTED too; anything else is GATEWAY_UNREACHABLE.
 */
export function classify(err: Error | undefined, label: string): IsthmusError {
  if (err instanceof IsthmusError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err !== undefined && code !== undefined && UNTRUSTED_CHAIN.has(code))
    return untrusted(label, err.message, err);
  const detail = err === undefined ? 'connection closed during setup' : err.message;
  return new IsthmusError('GATEWAY_UNREACHABLE', `gateway ${label} unreachable: ${detail}`, { cause: err });
}
