/**
 * What the status says of a mirror write the local API server refused (pure; mirror-sync.ts
 * applies it), and whether the sync counts as failed and is retried.
 */
import { type IsthmusError, isIsthmusError } from '../errors.js';
import { isNamespaceTerminating } from '../kube/errors.js';
import type { LinkConfig } from './link-config.js';
import { terminatingNamespaceMessage } from './plan-mirror.js';
import type { MirrorReason } from './skip-reason.js';

export interface Refusal {
  reason: Exclude<MirrorReason, 'Mirrored'>;
  message: string;
  /** Thrown by the watcher once recorded: a failed sync, retried with backoff (a terminal one every TERMINAL_RETRY_MS). */
  retry?: IsthmusError;
}

/** The refusal `err` is, or undefined for an error the queue retries as it is (an outage, a 409). */
export function refusalOf(err: unknown, namespace: string, config: LinkConfig): Refusal | undefined {
  // The applier re-reads before writing: a stranger's object that the cache did not show yet.
  if (isIsthmusError(err, 'KUBE_CONFLICT') && err.terminal)
    return { reason: 'Conflict', message: err.message };
  // 422: the local API server refuses what we would write (a remote-discovery mirror's remote
  // address this cluster does not accept). Retrying cannot help until the remote changes, which
  // queues the key again; the status says why.
  if (isIsthmusError(err, 'KUBE_INVALID'))
    return { reason: 'InvalidService', message: `the local API server refused the mirror: ${err.message}` };
  // 403 NamespaceTerminating: the namespace's deletion began before the cache showed it. Retried
  // with backoff (the error is not terminal); the namespace's own events re-queue the key too.
  if (isNamespaceTerminating(err))
    return {
      reason: 'MissingNamespace',
      message: terminatingNamespaceMessage(namespace, config),
      retry: err,
    };
  if (isIsthmusError(err, 'MIRROR_NAMESPACE_FORBIDDEN'))
    return { reason: 'MissingNamespace', message: err.message, retry: err };
  // Any other refusal that retrying cannot change (RBAC's 403, a 400): the mirror is not as
  // planned, maybe not there at all, and the status must not go on saying it is. Still a failed
  // sync (counted, logged); terminal, so the queue retries it only every TERMINAL_RETRY_MS (2
  // minutes), and whenever the key is queued again.
  if (isIsthmusError(err) && err.terminal)
    return {
      reason: 'ApplyFailed',
      message: `the local API server refused the mirror: ${err.message}`,
      retry: err,
    };
  return undefined;
}
