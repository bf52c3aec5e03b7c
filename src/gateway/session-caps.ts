/**
 * Bounds on the HTTP/2 sessions the ingress keeps established (security review: each admitted
 * session costs ~66 KiB with no stream open, and one stream keeps it open for good). A peer cluster
 * needs one session per gateway replica of its pool, plus a few while a session drains or a probe
 * dials: a per-peer cap keeps one peer (or a stolen certificate) from holding thousands, and a total
 * cap bounds them all.
 */

/** The reason published (and counted as `session_limit`) for a session refused at a cap. */
export const SESSION_LIMIT = 'ERR_HTTP2_SESSION_LIMIT';

/** Default sessions one peer cluster may hold: replicas of its pool, with room for drains and probes. */
export const DEFAULT_MAX_SESSIONS_PER_PEER = 32;
/** Default sessions in all: ~66 KiB each with no stream open, so ~64 MiB at the cap. */
export const DEFAULT_MAX_SESSIONS = 1000;

/**
 * How many sessions a peer may hold in all, draining ones included, per session the per-peer cap
 * allows: a session that drains (GOAWAY either way) lives on for its tunnels and leaves the cap, so
 * that sessions kept by long-lived tunnels across daily rotations do not lock a peer out; but a
 * peer can drain sessions itself (its own GOAWAY, one tunnel kept), so draining ones are bounded
 * too, or one peer could fill --max-sessions (a review's finding).
 */
export const DRAINING_ALLOWANCE = 4;

export interface SessionCaps {
  perPeer: number;
  total: number;
}

/** A peer's sessions: `active` (not draining, what the per-peer cap counts) of `all`. */
export interface PeerSessions {
  active: number;
  all: number;
}

/**
 * Why a new session of a peer holding `held` must be refused while `total` are open, or undefined
 * when it may be admitted.
 */
export function sessionCapRefusal(held: PeerSessions, total: number, caps: SessionCaps): string | undefined {
  if (held.active >= caps.perPeer) return `too many sessions from this cluster: the limit is ${caps.perPeer}`;
  const allowed = caps.perPeer * DRAINING_ALLOWANCE;
  if (held.all >= allowed)
    return `too many sessions from this cluster, ${held.all - held.active} of them draining: the limit is ${allowed} in all`;
  if (total >= caps.total) return `too many sessions: this gateway's limit is ${caps.total}`;
  return undefined;
}
