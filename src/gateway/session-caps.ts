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

export interface SessionCaps {
  perPeer: number;
  total: number;
}

/**
 * Why a new session of a peer that holds `held` sessions must be refused while `total` are open,
 * or undefined when it may be admitted.
 */
export function sessionCapRefusal(held: number, total: number, caps: SessionCaps): string | undefined {
  if (held >= caps.perPeer) return `too many sessions from this cluster: the limit is ${caps.perPeer}`;
  if (total >= caps.total) return `too many sessions: this gateway's limit is ${caps.total}`;
  return undefined;
}
