/**
 * Session-level helpers of the pool: keepalive PINGs, refused-stream marking and failure
 * classification. Kept apart so session-pool.ts holds only the pooling logic.
 */
import type { ClientHttp2Session } from 'node:http2';
import { IsthmusError } from '../errors.js';

/** PINGs `session` every `ms`; destroys it when an answer takes longer than `ms`. */
export function keepAlive(session: ClientHttp2Session, ms: number): void {
  let waiting = false;
  const interval = setInterval(() => {
    if (waiting) {
      session.destroy(new IsthmusError('GATEWAY_UNREACHABLE', `no PING answer within ${ms} ms`));
      return;
    }
    waiting = true;
    session.ping((err) => {
      if (!err) waiting = false;
    });
  }, ms);
  // The pool must not keep a process alive on its own.
  interval.unref();
  session.once('close', () => clearInterval(interval));
}

/** Marks an error whose stream the peer refused unprocessed. */
export const REFUSED_STREAM = Symbol('REFUSED_STREAM');
/** Bounded, so a peer that refuses every stream cannot keep us looping. */
export const MAX_REFUSED_RETRIES = 2;

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
