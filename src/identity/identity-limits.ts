/**
 * How much of the identity service one client can hold: connections (connection-guard.ts), TLS
 * handshakes, HTTP/2 streams and session memory (grpc-js options), and how long a connection may
 * stay. The service must fit in its 256 MiB memory limit whatever its ports are sent, and one of
 * them (health, :9990) is open to every pod. Measured on Node 20 with grpc-js 1.14: an idle
 * session costs ~35 KiB (TLS) or ~23 KiB (plaintext), and a stream that sends its headers and no
 * message ~6.5 KiB more, held until the connection's age is up (grpc-js times out no call without a
 * deadline). So the bound is connections times streams: with these defaults a full Certify port
 * (128 connections × 32 streams) measured +43 MiB of RSS, a full health port (256 × 4) +19 MiB,
 * and one client address may hold an eighth of the one and a 32nd of the other. Real traffic is
 * tiny: a few hundred gateways renewing every ~17 h, one short unary call each on a channel of its
 * own, and the kubelet's probes.
 */
import type { ServerOptions } from '@grpc/grpc-js';
import type { ConnectionLimits } from '../connection-guard.js';
import { MAX_CERTIFY_IN_FLIGHT } from './certify-gate.js';
import { MAX_CERTIFY_WAITING } from './fair-slots.js';

/** Certify calls the service holds at once: in flight, or waiting for a slot; more are refused as busy. */
const CERTIFY_CALLS_HELD = MAX_CERTIFY_IN_FLIGHT + MAX_CERTIFY_WAITING;

export interface ServerLimits extends ConnectionLimits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: a stream beyond it is refused (REFUSED_STREAM). */
  maxStreams: number;
  /** nghttp2's memory per session in MB (Node's maxSessionMemory; grpc-js's default: unlimited). */
  sessionMemoryMb: number;
  /** A connection with no call open this long gets a GOAWAY. */
  idleMs: number;
  /** A connection this old (±10 %, grpc-js's jitter) gets a GOAWAY… */
  maxAgeMs: number;
  /** …and is cut this much later, calls still open or not. */
  ageGraceMs: number;
  /**
   * A connection the server has ended (idle, too old, or a GOAWAY and FIN sent) is cut if the peer
   * has not closed its side this much later: Node's HTTP/2 waits for the peer's FIN, which a peer
   * that does not read never sends.
   */
  lingerMs: number;
}

export interface CertifyLimits extends ServerLimits {
  maxHandshakes: number;
  /** A TLS client that has not finished its handshake by then is cut (Node's default: 120 s). */
  handshakeTimeoutMs: number;
}

export const CERTIFY_LIMITS: CertifyLimits = {
  // More connections than calls the service can hold would only be answered "busy"; twice that
  // leaves room for connections in their handshake or closing. Renewals are milliseconds each and
  // come hours apart; a gateway refused retries with backoff (IDENTITY_UNAVAILABLE).
  maxConnections: 2 * CERTIFY_CALLS_HELD,
  // A node's gateways behind SNAT share an address; each call has a connection of its own.
  maxPerAddress: 16,
  // A handshake takes milliseconds: as many at once as calls the service can hold is plenty.
  maxHandshakes: CERTIFY_CALLS_HELD,
  // In-cluster, a handshake takes milliseconds.
  handshakeTimeoutMs: 5_000,
  // No connection is served more calls at once than the service has slots (certify-gate.ts).
  maxStreams: MAX_CERTIFY_IN_FLIGHT,
  sessionMemoryMb: 4,
  idleMs: 60_000,
  // A Certify call is over within the gateway's 10 s deadline; a connection held with calls that
  // never send their request is cut within 5.5 min (6 with the jitter).
  maxAgeMs: 5 * 60_000,
  ageGraceMs: 30_000,
  lingerMs: 5_000,
};

/** The kubelet makes one probe call per connection, a few probes at once per node. */
export const HEALTH_LIMITS: ServerLimits = {
  maxConnections: 256,
  maxPerAddress: 8,
  maxStreams: 4,
  sessionMemoryMb: 1,
  // Also bounds a plaintext connection that never sends the HTTP/2 preface: its session (and its
  // idle timer) starts on arrival.
  idleMs: 10_000,
  maxAgeMs: 60_000,
  ageGraceMs: 10_000,
  lingerMs: 5_000,
};

/**
 * The longest any connection may live, from its arrival (its handshake included): a backstop to
 * grpc-js's own timers, which a peer that never completes or never reads can outlast.
 */
export function connectionLifetimeMs(limits: ServerLimits & { handshakeTimeoutMs?: number }): number {
  // grpc-js adds up to +10 % of jitter to the age.
  return (limits.handshakeTimeoutMs ?? 0) + limits.maxAgeMs * 1.1 + limits.ageGraceMs + limits.lingerMs;
}

/**
 * The grpc-js options for `limits`, as @grpc/grpc-js 1.14 reads them in its Server constructor:
 * `grpc.max_concurrent_streams` becomes the http2 server's `settings.maxConcurrentStreams`,
 * `grpc-node.max_session_memory` its `maxSessionMemory`, and the idle and age options start
 * per-session timers (GOAWAY, then session.destroy() after the grace).
 */
export function grpcServerOptions(limits: ServerLimits): ServerOptions {
  return {
    'grpc.max_concurrent_streams': limits.maxStreams,
    'grpc-node.max_session_memory': limits.sessionMemoryMb,
    'grpc.max_connection_idle_ms': limits.idleMs,
    'grpc.max_connection_age_ms': limits.maxAgeMs,
    'grpc.max_connection_age_grace_ms': limits.ageGraceMs,
  };
}
