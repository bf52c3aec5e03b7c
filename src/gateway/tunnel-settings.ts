/**
 * TLS and HTTP/2 settings both ends of a tunnel share (shared/DESIGN.md, "The tunnel"): TLS 1.3
 * only, ALPN `h2`, certificates chaining to the shared trust anchor. Kept in one place so the
 * ingress and the session pool cannot drift apart.
 */
import type { X509Certificate } from 'node:crypto';
import { constants as http2Constants } from 'node:http2';
import type { SecureContextOptions, TLSSocket } from 'node:tls';

export interface TunnelSecureContext {
  key: string;
  /** Leaf followed by its issuer chain. */
  cert: string;
  /** The trust anchor. */
  ca: string;
}

/** RFC 7301 ALPN id of HTTP/2 over TLS (RFC 9113 §3.2). */
export const ALPN_H2 = 'h2';

export function tlsContextOptions(ctx: TunnelSecureContext): SecureContextOptions {
  return { key: ctx.key, cert: ctx.cert, ca: ctx.ca, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
}

/**
 * Flow-control windows (RFC 9113 §6.9). The default 64 KiB stream window caps a tunnel at one
 * window per round trip; 1 MiB lets a single tunnel fill a fast link. Windows are credit, not
 * allocations: an idle tunnel costs nothing for them, and the session window (set per session with
 * setLocalWindowSize) bounds what all streams of a session can have in flight together.
 */
export const STREAM_WINDOW_BYTES = 1 << 20;
/**
 * The stream window the ingress advertises by default (--ingress-stream-window): what a peer may send
 * on a tunnel whose backend does not read, held in this gateway until the backend does. It bounds a
 * tunnel's peer-to-backend throughput to ~window ÷ RTT (at 20 ms: 37 MiB/s at 1 MiB, 11 MiB/s at
 * 256 KiB, measured) and a loaded tunnel's memory to ~the window (~78 vs ~29 KiB of RSS each over
 * ~2,100 loaded tunnels): the default favours throughput; config.ts says when to lower it.
 */
export const DEFAULT_INGRESS_STREAM_WINDOW_BYTES = STREAM_WINDOW_BYTES;
/** The bounds of --ingress-stream-window: the RFC's default window up to 16 MiB. */
export const MIN_INGRESS_STREAM_WINDOW_BYTES = 1 << 16;
export const MAX_INGRESS_STREAM_WINDOW_BYTES = 1 << 24;
export const SESSION_WINDOW_BYTES = 32 << 20;
/** RFC 9113 §4.2 allows up to 2^24-1; 64 KiB frames cut per-frame overhead on bulk transfers. */
export const MAX_FRAME_BYTES = 1 << 16;
/** nghttp2's per-session memory cap in MB (Node's default 10 is reached by ~1,000 busy tunnels). */
export const MAX_SESSION_MEMORY_MB = 128;

/**
 * listen(2) backlog of the ingress and egress listeners. Node's default of 511 overflows on a burst
 * of ~1,000 connections; each SYN the kernel drops then waits for its retransmit (1 s, 3 s, 7 s),
 * long enough under load to trip a peer's connect timeout. Linux clamps it to net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;

/** Marks the debug data of a GOAWAY that refuses a peer (REFUSING_CODES), before the reason. */
const REFUSAL_PREFIX = 'isthmus refused: ';
/** A reason is one sentence; the bound keeps a GOAWAY small whatever a policy returns. */
const MAX_REFUSAL_CHARS = 512;

/** The GOAWAY debug data with which the ingress refuses a peer (see refuseSession). */
export function refusalDebugData(reason: string): Buffer {
  return Buffer.from(`${REFUSAL_PREFIX}${reason}`.slice(0, MAX_REFUSAL_CHARS));
}

/**
 * The GOAWAY codes with which the ingress refuses a peer and says why: INADEQUATE_SECURITY (its
 * credentials) and ENHANCE_YOUR_CALM (a session cap: "too many sessions").
 */
const REFUSING_CODES: ReadonlySet<number> = new Set([
  http2Constants.NGHTTP2_INADEQUATE_SECURITY,
  http2Constants.NGHTTP2_ENHANCE_YOUR_CALM,
]);

/**
 * Whether a refusing GOAWAY turns the peer away for capacity (ENHANCE_YOUR_CALM: a session cap),
 * not for its credentials: another address or replica of the same gateway may take the session.
 */
export function refusesCapacity(code: number): boolean {
  return code === http2Constants.NGHTTP2_ENHANCE_YOUR_CALM;
}

/** The reason a refusing GOAWAY carries, or undefined for any other GOAWAY. */
export function refusalReason(code: number, debug: Buffer | undefined): string | undefined {
  if (!REFUSING_CODES.has(code) || debug === undefined) return undefined;
  // Bounded and printable here too: a peer that passed the handshake writes what it likes, and the
  // text ends up in logs, Link conditions and terminals.
  const text = debug.subarray(0, MAX_REFUSAL_CHARS).toString('utf8');
  return text.startsWith(REFUSAL_PREFIX)
    ? text.slice(REFUSAL_PREFIX.length).replace(/[^\x20-\x7e]/g, '?')
    : undefined;
}

/** Idle time before the first TCP keepalive probe on gateway-to-gateway connections. */
export const TCP_KEEPALIVE_MS = 30_000;

/** The SPIFFE URI SAN a peer presented, or undefined. Node ≥ 17 quotes SAN values with special characters as JSON strings. */
export function spiffeIdOf(cert: X509Certificate | undefined): string | undefined {
  return spiffeIdOfSan(cert?.subjectAltName);
}

/** Same, from the `subjectAltName` text of an X509Certificate or the `subjectaltname` of a PeerCertificate. */
export function spiffeIdOfSan(san: string | undefined): string | undefined {
  if (!san) return undefined;
  for (const entry of splitSan(san)) {
    if (!entry.startsWith('URI:')) continue;
    let value = entry.slice(4);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    if (value.startsWith('spiffe://')) return value;
  }
  return undefined;
}

/** Splits `URI:a, DNS:b` on the separators outside quoted values. */
function splitSan(san: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < san.length; i++) {
    const c = san[i];
    if (c === '"' && san[i - 1] !== '\\') quoted = !quoted;
    else if (c === ',' && !quoted) {
      out.push(san.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(san.slice(start).trim());
  return out;
}

export function peerCertificateOf(socket: TLSSocket): X509Certificate | undefined {
  return socket.getPeerX509Certificate() ?? undefined;
}

/** `spiffe://<td>/cluster/<cluster>/gateway` → `<cluster>`; used only to label events. */
export function clusterOfIdentity(identity: string | undefined): string | undefined {
  const m = identity === undefined ? null : /^spiffe:\/\/[^/]+\/cluster\/([^/]+)\/gateway$/.exec(identity);
  return m?.[1];
}
