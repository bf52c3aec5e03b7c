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

/** A log line, at `level`, and maybe a Link Event with the same message. */
export interface HandOverNotice {
  level: 'info' | 'warn';
  /** The log line's fields: the mirror `namespace/name`, and the address where one was asked for. */
  fields: { mirror: string; clusterIP?: string; reason?: string };
  message: string;
  event?: LinkEvent;
}

/**
 * What a sync of `key` did to a mirror name changing hands (hand-over.ts, plan-mirror.ts): our
 * slices of a name a Service not ours holds, deleted (a Warning Event: that Service's callers
 * were sent to egress ports no gateway served for it); a new mirror created at the ClusterIP of
 * Linkerd's mirror it replaces (a log line), or with a new one because the API server refused it
 * (a Warning Event: callers that hold the old address fail until they resolve the name again).
 */
export function handOverNotices(
  cluster: string,
  key: string,
  status: ServiceMirrorStatus | undefined,
  applied: readonly AppliedAction[],
): HandOverNotice[] {
  const out: HandOverNotice[] = [];
  for (const a of applied) {
    const mirror = `${a.namespace}/${a.name}`;
    if (a.action === 'deleteSlice' && a.outcome === 'deleted' && status?.reason === 'Conflict') {
      const message = `${key}: deleted EndpointSlice ${mirror}, which Isthmus wrote to send callers to the local gateways, as the Service of its name is not Isthmus's mirror any more: ${status.message ?? ''}`;
      out.push({
        level: 'warn',
        fields: { mirror },
        message,
        event: { type: 'Warning', reason: 'MirrorSliceDeleted', message },
      });
    }
    const ip = a.clusterIP;
    if (a.action !== 'applyService' || a.outcome !== 'created' || !ip) continue;
    if (ip.refused === undefined) {
      out.push({
        level: 'info',
        fields: { mirror, clusterIP: ip.asked },
        message: `created Service ${mirror} at the ClusterIP of the mirror of ${cluster} it replaces, which its callers hold`,
      });
      continue;
    }
    const message = `${key}: created Service ${mirror} with a new ClusterIP: the API server refused ${ip.asked}, the ClusterIP of the mirror of ${cluster} it replaces (${ip.refused}); callers that hold ${ip.asked} fail until they resolve ${mirror} again`;
    out.push({
      level: 'warn',
      fields: { mirror, clusterIP: ip.asked, reason: ip.refused },
      message,
      event: { type: 'Warning', reason: 'ClusterIPNotKept', message },
    });
  }
  return out;
}
