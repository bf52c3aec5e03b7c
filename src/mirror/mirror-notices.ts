/**
 * Which of a sync's results are worth telling (log lines, Events on the Link), and in what words.
 * Pure: the watcher passes what the sync decided and what was known before, and logs and records
 * what comes back.
 */
import { ISTHMUS_MIRROR_LABEL } from '../kube/keys.js';
import type { AppliedAction } from './applier.js';
import type { LinkEvent } from './link-events.js';
import type { ServiceMirrorStatus } from './plan-mirror.js';

/**
 * A key's new status, if worth telling: not mirrored, or mirrored without some of its ports (its
 * message says which), and changed since. `Normal` when it is what the export's owner asked for
 * (NotAllowed: `isthmus.dev/allowed-clusters`), not a fault; else a Warning. Logged at the same
 * level (info, warn) as the Event's type.
 */
export function statusNotice(
  key: string,
  before: ServiceMirrorStatus | undefined,
  status: ServiceMirrorStatus,
): LinkEvent | undefined {
  if (status.reason === 'Mirrored' && !status.message) return undefined;
  if (before?.reason === status.reason && before?.message === status.message) return undefined;
  return {
    type: status.reason === 'NotAllowed' ? 'Normal' : 'Warning',
    reason: status.reason === 'Mirrored' ? 'PortsNotMirrored' : status.reason,
    message: `${key}: ${status.message ?? status.reason}`,
  };
}

/** How the count of Mirrored entries changes when `key`'s entry goes from `before` to `after`. */
export function mirroredChange(
  before: ServiceMirrorStatus | undefined,
  after: ServiceMirrorStatus | undefined,
): number {
  return (after?.reason === 'Mirrored' ? 1 : 0) - (before?.reason === 'Mirrored' ? 1 : 0);
}

export interface DeletionNotice {
  /** The mirror Service deleted, `namespace/name`. */
  mirror: string;
  message: string;
  /** Recorded as a Normal `MirrorDeleted` Event on the Link too, besides the log line. */
  event: boolean;
}

/**
 * The mirrors a sync deleted because the remote has no Service this Link mirrors at `key`: a log
 * line each, saying why. `known`: the key had a status entry, so this controller mirrored it. One
 * it never mirrored (a Service made by hand with this Link's mark, isthmus.dev/mirror, which makes
 * it one of the Link's mirrors; or one whose export went away while the controller was down) is an
 * Event too, so that `kubectl describe link` tells where it went. An export that went away left its
 * trace in the Link's status already, and a large unexport must not spend the Link's Event budget
 * (the recorder's spam filter) before its troubles.
 */
export function deletionNotices(
  cluster: string,
  key: string,
  known: boolean,
  applied: readonly AppliedAction[],
): DeletionNotice[] {
  const why = known ? `${cluster} no longer exports ${key}` : `${cluster} exports no Service ${key}`;
  return applied
    .filter((a) => a.action === 'deleteService' && a.outcome === 'deleted')
    .map((a) => {
      const mirror = `${a.namespace}/${a.name}`;
      const message = `deleted Service ${mirror}, a mirror of ${cluster} (${ISTHMUS_MIRROR_LABEL}=${cluster}): ${why}`;
      return { mirror, message, event: !known };
    });
}
