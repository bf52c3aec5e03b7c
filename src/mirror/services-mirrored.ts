/**
 * The Link's ServicesMirrored condition (link-status.ts): whether the Services the Link picks are
 * mirrored. Ready stays about the link itself (connected, listed, the remote is the Link's
 * cluster), as a Cilium cluster's or an Istio remote's readiness is: one tenant's Service refused
 * by RBAC or held by a stranger's Service of the mirror's name must not make `kubectl wait
 * --for=condition=Ready` hang, nor page as a broken link. It must not hide behind Ready=True
 * either, so it has a condition of its own. Pure.
 */
import type { ServiceMirrorStatus, V1Condition } from '../kube/types.js';
import type { MirrorReason } from './skip-reason.js';

export const SERVICES_MIRRORED = 'ServicesMirrored';

/**
 * Reasons that are someone's decision, not a failure: the exporter's (NotAllowed), Isthmus's own
 * rules (OwnedByIsthmus: a Service Isthmus made remotely; UnsupportedServiceType: ExternalName),
 * the local cluster's (MissingNamespace: no such namespace here; mirrored once it exists, as
 * Linkerd's service mirror waits for it). Every other reason is a Service the Link should mirror
 * and cannot: Conflict, InvalidService, PortRangeExhausted, ApplyFailed, SyncFailing.
 */
const BY_CHOICE: ReadonlySet<string> = new Set<MirrorReason>([
  'NotAllowed',
  'OwnedByIsthmus',
  'UnsupportedServiceType',
  'MissingNamespace',
]);

/** Failing Services the message names; the rest are counted (status.services lists them). */
const NAMED = 3;

type Cond = Pick<V1Condition, 'type' | 'status' | 'reason' | 'message'>;

export interface ServicesSeen {
  mirrored: number;
  /** Services not mirrored, with the reason. */
  problems: readonly ServiceMirrorStatus[];
  /**
   * Services of the last complete remote list whose sync has not run since; undefined before any
   * complete list. Until none is left, `mirrored` and `problems` are not yet what the list says.
   */
  servicesUnsynced?: number;
  /**
   * Mirrors kept although the remote's last list lacks their Services (deletion-hold.ts), and when
   * the hold ends (ISO time); absent: none held.
   */
  deletionsHeld?: { count: number; until: string };
}

/** ServicesMirrored's reason while a shrunk remote list's removals are held (deletion-hold.ts). */
export const REMOTE_LIST_SHRUNK = 'RemoteListShrunk';

/** The message of a hold: how many, until when, and what ends it. */
export function heldMessage(held: { count: number; until: string }): string {
  return `${held.count} mirrors kept although the remote's last list lacks their Services (one list would have removed more than half of the mirrors at once: a restored or half-restored remote API?); deleted at ${held.until} unless listed again by then (isthmus controller --mirror-deletion-grace)`;
}

/**
 * The condition now. Until every Service of a new list is synced (a restart, a reconnect), it
 * keeps what it said before (`previous`): a restart must not say "none failed" before the failing
 * Services are synced again, and a reconnect must not flap it.
 */
export function servicesMirrored(s: ServicesSeen, previous: V1Condition | undefined): Cond {
  // Said before anything else, a list not fully synced included: mirrors are kept against the list.
  // The Services that cannot be mirrored for another reason are said too, once synced: a hold must
  // not hide them (`isthmus check` tells NoneMirrored from the status's counts).
  const { deletionsHeld, ...rest } = s;
  if (deletionsHeld) {
    const others = rest.servicesUnsynced === 0 ? servicesMirrored(rest, undefined) : undefined;
    return {
      type: SERVICES_MIRRORED,
      status: 'False',
      reason: REMOTE_LIST_SHRUNK,
      message: `${heldMessage(deletionsHeld)}${others?.status === 'False' ? `; besides, ${others.message}` : ''}`,
    };
  }
  if (s.servicesUnsynced !== 0) {
    if (previous)
      return {
        type: previous.type,
        status: previous.status,
        reason: previous.reason,
        message: previous.message,
      };
    return {
      type: SERVICES_MIRRORED,
      status: 'Unknown',
      reason: 'Syncing',
      message:
        s.servicesUnsynced === undefined
          ? 'waiting for the first list of the remote cluster'
          : 'not every Service of the remote list has been synced yet',
    };
  }
  const failed = s.problems
    .filter((p) => !BY_CHOICE.has(p.reason))
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  if (failed.length === 0) {
    const leftOut = s.problems.length;
    return {
      type: SERVICES_MIRRORED,
      status: 'True',
      reason: 'AllMirrored',
      message: `${s.mirrored} services mirrored, none failed${leftOut ? `; ${leftOut} left out (${countByReason(s.problems)})` : ''}`,
    };
  }
  const named = failed.slice(0, NAMED).map((p) => `${p.namespace}/${p.name} (${p.reason})`);
  const more = failed.length > NAMED ? ` and ${failed.length - NAMED} more` : '';
  return {
    type: SERVICES_MIRRORED,
    status: 'False',
    reason: s.mirrored === 0 ? 'NoneMirrored' : 'SomeNotMirrored',
    message: `${failed.length} of ${s.mirrored + failed.length} services not mirrored: ${named.join(', ')}${more}; status.services says why`,
  };
}

/** `1 MissingNamespace, 2 NotAllowed`: the reasons in order, each with its count. */
function countByReason(problems: readonly ServiceMirrorStatus[]): string {
  const counts = new Map<string, number>();
  for (const p of problems) counts.set(p.reason, (counts.get(p.reason) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ');
}
