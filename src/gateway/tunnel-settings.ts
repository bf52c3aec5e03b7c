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
 * The stream window the ingress advertises: what a peer may send on a tunnel whose backend does not
 * read, held in this gateway (its socket buffers, then Node's) until the backend does. With 1 MiB a
 * peer holding 2,000 such tunnels grew the gateway by +159 MiB RSS (+131 MiB of Buffers) past what
 * the kernel held (security review); with 256 KiB by +56 MiB (~26 KiB a tunnel), so --max-tunnels
 * loaded tunnels stay within the memory limit. It slows only the peer-to-backend direction to
 * 256 KiB a round trip (~12 MiB/s a tunnel at 20 ms); answers flow under the egress's 1 MiB.
 */
export const INGRESS_STREAM_WINDOW_BYTES = 1 << 18;
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

/** Marks the debug data of a GOAWAY that refuses a peer (INADEQUATE_SECURITY), before the reason. */
const REFUSAL_PREFIX = 'isthmus refused: ';
/** A reason is one sentence; the bound keeps a GOAWAY small whatever a policy returns. */
const MAX_REFUSAL_CHARS = 512;

/** The GOAWAY debug data with which the ingress refuses a peer (see refuseSession). */
export function refusalDebugData(reason: string): Buffer {
  return Buffer.from(`${REFUSAL_PREFIX}${reason}`.slice(0, MAX_REFUSAL_CHARS));
}

/** The reason a refusing GOAWAY carries, or undefined for any other GOAWAY. */
export function refusalReason(code: number, debug: Buffer | undefined): string | undefined {
  if (code !== http2Constants.NGHTTP2_INADEQUATE_SECURITY || debug === undefined) return undefined;
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
