/**
 * One pooled mTLS HTTP/2 session to a remote gateway (session-pool.ts), as the pool keeps it: its
 * stream count, whether it takes new tunnels, the peer it proved to be; and whether it may carry a
 * given tunnel.
 */
import type { X509Certificate } from 'node:crypto';
import type { ClientHttp2Session } from 'node:http2';
import { IsthmusError } from '../errors.js';
import { hostPort } from '../host-port.js';
import type { SessionLiveness } from './session-liveness.js';

export interface GatewayAddress {
  host: string;
  port: number;
}

export interface PooledSession {
  session: ClientHttp2Session;
  /**
   * The remote's chain as verified at the handshake (OpenSSL keeps the issuer only until then), and
   * the earliest notAfter in it.
   */
  chain: { leaf?: X509Certificate; issuer?: X509Certificate; notAfter?: number };
  streams: number;
  /** GOAWAY received or closing: no new streams. */
  draining: boolean;
  /** The pool's context generation this session shook hands with (setSecureContext counts them). */
  generation: number;
  /** Peer cluster from its certificate, for event labels; the address when unknown. */
  peer: string;
  /** The cluster of the peer's gateway identity, once connected (undefined: not a cluster's). */
  cluster?: string;
  liveness: SessionLiveness;
  /**
   * How to fail each CONNECT on this session that went suspect (unanswered `suspectAfterMs`) and is
   * still unanswered: only those are failed when the session is found hung.
   */
  unanswered: Set<(err: IsthmusError) => void>;
  /** Still dialling at a cutUnlinked (its peer unknown then): cut once established if unlinked. */
  dialledAtCut: boolean;
}

export type SessionCallback = (err: IsthmusError | null, pooled?: PooledSession) => void;
/** A session (or why none) at one of a gateway's addresses: `at` says which. */
export type GatewaySessionCallback = (
  err: IsthmusError | null,
  pooled?: PooledSession,
  at?: GatewayAddress,
) => void;

/** Why `pooled` may not carry a tunnel meant for `expected`'s gateway; undefined when it may. */
export function identityMismatch(
  pooled: PooledSession,
  gateway: GatewayAddress,
  expected: string | undefined,
): IsthmusError | undefined {
  if (expected === undefined || pooled.cluster === expected) return undefined;
  const holder = pooled.cluster === undefined ? 'no cluster' : `cluster ${pooled.cluster}`;
  return new IsthmusError(
    'GATEWAY_IDENTITY_MISMATCH',
    `the gateway at ${hostPort(gateway.host, gateway.port)} holds the gateway identity of ${holder}, not of cluster ${expected}`,
  );
}

/**
 * A session whose client stream IDs are spent (2^31 − 1, odd only: RFC 9113 §5.1.1; ~1 billion
 * tunnels) cannot open another stream, and Node leaves it open: it takes no new streams from then
 * on and closes once the tunnels on it end, so the next tunnel gets a fresh session.
 */
export function retireIfOutOfStreams(pooled: PooledSession, err: Error): boolean {
  if ((err as NodeJS.ErrnoException).code !== 'ERR_HTTP2_OUT_OF_STREAMS') return false;
  pooled.draining = true;
  if (!pooled.session.closed) pooled.session.close();
  return true;
}
