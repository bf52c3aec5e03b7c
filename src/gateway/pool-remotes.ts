/**
 * The session pool's entry per remote address (session-pool.ts): its sessions, its dial and the
 * callers waiting for it, its backoff, and what a walk asked about it learnt (distrust); when an
 * idle entry is forgotten, so that the map stays bounded whoever names addresses.
 */
import type { IsthmusError } from '../errors.js';
import { hostPort } from '../host-port.js';
import { isTrustFailure } from './gateway-failover.js';
import type { GatewayAddress, PooledSession, SessionCallback } from './pooled-session.js';
import { remoteKey } from './remote-key.js';
import { maxStreams } from './session-support.js';

export interface Remote {
  address: GatewayAddress;
  label: string;
  sessions: PooledSession[];
  connecting: boolean;
  waiters: SessionCallback[];
  failures: number;
  retryAt: number;
  lastError: IsthmusError | undefined;
  /**
   * The last failure here if it was one of trust (the remote's refusal, ours, or another cluster's
   * identity for the cluster a caller expected), for an address a walk was asked about (no walk
   * reads it of any other), until a caller gets a session here or a dial fails otherwise: a walk
   * asked about this address then gives it a longer head start (`waitsForAsked`). Recorded however
   * late it comes, after the walk that dialled went elsewhere too (the dial outlives it).
   */
  distrusted: IsthmusError | undefined;
  /** When `distrusted` was last recorded (Date.now()): forgotten DISTRUST_MEMORY_MS after. */
  distrustedAt: number;
  /** The dial in the background after a hang or a connect timeout, at the backoff's end. */
  redial: NodeJS.Timeout | undefined;
  /** Background redials since a tunnel or probe last asked for this remote. */
  idleRedials: number;
  /** The cluster the last tunnel or probe asking for this remote expected there (the dials' label). */
  cluster: string | undefined;
}

/** The entry of an address the pool has no state for yet: no session, no failure. */
export function newRemote(gateway: GatewayAddress): Remote {
  return {
    address: { host: gateway.host, port: gateway.port },
    label: hostPort(gateway.host, gateway.port),
    sessions: [],
    connecting: false,
    waiters: [],
    failures: 0,
    retryAt: 0,
    lastError: undefined,
    distrusted: undefined,
    distrustedAt: 0,
    redial: undefined,
    idleRedials: 0,
    cluster: undefined,
  };
}

export function failWaiters(remote: Remote, err: IsthmusError): void {
  for (const w of remote.waiters.splice(0)) w(err);
}

/** Destroys the sessions `refused` says must go, with their tunnels; returns how many. */
export function cutSessions(
  remotes: ReadonlyMap<string, Remote>,
  refused: (pooled: PooledSession) => boolean,
): number {
  let cut = 0;
  for (const remote of remotes.values()) {
    for (const pooled of [...remote.sessions]) {
      if (!refused(pooled)) continue;
      pooled.draining = true;
      pooled.session.destroy();
      cut++;
    }
  }
  return cut;
}

/** Whether `gateway` has a session that takes a tunnel now (session() answers it at once). */
export function hasFreeSession(remotes: ReadonlyMap<string, Remote>, gateway: GatewayAddress): boolean {
  const remote = remotes.get(remoteKey(gateway));
  return remote?.sessions.some((p) => !p.draining && p.streams < maxStreams(p.session)) === true;
}

/**
 * What the walk asked about `at` learnt of it: a failure of trust (another cluster's identity
 * there too, no failure of the dial: the session serves that cluster) is remembered, a session
 * given clears what was. Written only when it changes or is renewed, off the hot path.
 */
export function distrust(
  remotes: ReadonlyMap<string, Remote>,
  at: GatewayAddress,
  failure: IsthmusError | undefined,
): void {
  if (failure !== undefined && !isTrustFailure(failure)) return;
  const remote = remotes.get(remoteKey(at));
  if (remote === undefined || (failure === undefined && remote.distrusted === undefined)) return;
  remote.distrusted = failure;
  remote.distrustedAt = Date.now();
}

/**
 * Drops the remotes that hold nothing (no session, no dial, no waiter) and whose backoff ended
 * more than one maximum backoff ago: such an entry is only a failure count and an error. Every
 * address ever dialled got one, and `/probe?gateway=` lets any caller of the admin port name
 * addresses, so without this the map grew with each distinct address until the gateway ran out
 * of memory. Run when a new remote is added, so the map is bounded by the addresses dialled
 * within about two backoff periods (plus those in use), each address once in whatever spelling
 * (`remoteKey`). A remote whose last failure was one of trust (`distrusted`) is kept longer, until
 * DISTRUST_MEMORY_MS after it was last recorded: walks asked about it give it a longer head start
 * on that memory (`waitsForAsked`), and forgetting it between two probes (every few seconds) gave
 * the race with the other addresses back. Bounded too (review: kept for ever, one per spelling
 * the admin `/probe` admits): the addresses asked about whose trust failed within that time.
 */
export function forgetIdleRemotes(remotes: Map<string, Remote>, backoffMaxMs: number): void {
  const now = Date.now();
  const staleBefore = now - backoffMaxMs;
  const distrustedBefore = now - Math.max(DISTRUST_MEMORY_MS, backoffMaxMs);
  for (const [key, r] of remotes) {
    if (
      r.sessions.length === 0 &&
      !r.connecting &&
      r.waiters.length === 0 &&
      r.retryAt < staleBefore &&
      (r.distrusted === undefined || r.distrustedAt < distrustedBefore)
    )
      remotes.delete(key);
  }
}

/**
 * How long a failure of trust at an address asked about is remembered with nothing recording it
 * again (forgetIdleRemotes): a live misconfiguration is probed every few seconds, so it stays.
 */
const DISTRUST_MEMORY_MS = 10 * 60_000;
