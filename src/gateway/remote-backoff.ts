/**
 * A remote's backoff after a failed dial or a hung session (session-dial.ts), during which its
 * tunnels fail fast (session-support.ts `noSessionStep`), and the dial in the background at its
 * end after a hang or a connect timeout.
 */
import type { IsthmusError } from '../errors.js';
import { isTrustFailure } from './gateway-failover.js';
import type { Remote } from './pool-remotes.js';
import { remoteKey } from './remote-key.js';
import { isHung } from './session-liveness.js';
import { MAX_IDLE_REDIALS } from './session-support.js';

/** What a remote's backoff needs of the pool: its settings, and hooks back into it. */
export interface Backoff {
  /** SessionPoolOptions.backoff, defaulted. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** The pool's remotes by `remoteKey`. */
  readonly remotes: ReadonlyMap<string, Remote>;
  /** The pool is closed (close()). */
  stopped(): boolean;
  /** Whether `cluster` is known and no longer linked (cutUnlinked). */
  unlinked(cluster: string | undefined): cluster is string;
  /** Dials a session to `remote` with the pool's current certificate. */
  dial(remote: Remote): void;
}

/**
 * A failed dial or a hung session: tunnels fail with `err` until the capped, jittered backoff
 * ends. After a hang or a connect timeout the remote is redialled when it does, so a recovered
 * remote has its session back before the next tunnel asks (not failing that one).
 */
export function backOff(remote: Remote, err: IsthmusError, pool: Backoff): void {
  remote.failures++;
  const delay = Math.min(pool.backoffMaxMs, pool.backoffBaseMs * 2 ** (remote.failures - 1));
  remote.retryAt = Date.now() + Math.random() * delay;
  remote.lastError = err;
  // A dial failing otherwise clears the memory; a trust failure is recorded by the walk asked
  // about this address (distrust), not here: no walk reads it of another.
  if (!isTrustFailure(err)) remote.distrusted = undefined;
  if (isHung(err) || err.code === 'GATEWAY_CONNECT_TIMEOUT') armRedial(remote, pool);
}

function armRedial(remote: Remote, pool: Backoff): void {
  clearTimeout(remote.redial);
  remote.redial = undefined;
  if (pool.stopped() || remote.idleRedials >= MAX_IDLE_REDIALS) return;
  remote.redial = setTimeout(
    () => {
      remote.redial = undefined;
      if (pool.stopped() || remote.connecting) return;
      // Forgotten meanwhile: a dial now would be a session close() knows nothing of.
      if (pool.remotes.get(remoteKey(remote.address)) !== remote) return;
      if (remote.sessions.some((s) => !s.draining)) return;
      // Its cluster was unlinked since: the session would be cut once established.
      if (pool.unlinked(remote.cluster)) return;
      remote.idleRedials++;
      pool.dial(remote);
    },
    Math.max(0, remote.retryAt - Date.now()),
  );
  // The pool must not keep a process alive on its own.
  remote.redial.unref();
}
