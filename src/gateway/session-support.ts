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

export function classify(err: Error | undefined, label: string): IsthmusError {
  if (err instanceof IsthmusError) return err;
  const detail = err === undefined ? 'connection closed during setup' : err.message;
  return new IsthmusError('GATEWAY_UNREACHABLE', `gateway ${label} unreachable: ${detail}`, { cause: err });
}
