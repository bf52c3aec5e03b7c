/**
 * Why a remote Service is not mirrored. One ordered list; the first match wins, and the same
 * reason string goes to the Link status, the Warning Event and the log (house style 4; Linkerd's
 * service mirror reports MissingNamespace / InvalidService the same way).
 */
import {
  allowedClustersOf,
  CLUSTER_NAME_LABEL,
  FEDERATED_SERVICE_LABEL,
  MIRRORED_SERVICE_LABEL,
} from '../kube/keys.js';
import { isLinkerdMirror } from '../kube/linkerd-mirror.js';
import type { V1Service } from '../kube/types.js';
import type { LinkConfig } from './link-config.js';
import { MAX_SERVICE_NAME, mirrorName, tunnelledPorts } from './mirror-objects.js';

/**
 * Status reasons of a per-service entry in Link status.
 * - Mirrored: the mirror and its EndpointSlice are in place.
 * - MissingNamespace: the namespace does not exist locally; mirrored as soon as it appears.
 * - Conflict: a local object of the mirror's name is not ours; never overwritten.
 * - InvalidService: the mirror's name would exceed 63 characters, the Service has no ports (through
 *   the gateways: no TCP port), more ports than an EndpointSlice holds (slicePortsSkip), or the
 *   local API server refused the mirror (422: e.g. a remote-discovery address it does not accept).
 * - UnsupportedServiceType: ExternalName Services have no endpoints to tunnel to.
 * - PortRangeExhausted: no egress port left in the configured range.
 * - NotAllowed: the export names the clusters it admits (`isthmus.dev/allowed-clusters`), and this
 *   one is not among them: its gateway would refuse every tunnel, so there is no mirror.
 * - OwnedByIsthmus: the remote Service is one the remote Isthmus made (a `<name>-federated`
 *   Service, a mirror) and someone exported: its endpoints are Isthmus's slices, which the remote
 *   gateway never dials and the Link does not watch, so a mirror of it could carry no traffic.
 * - ApplyFailed: the local API server refused a write of the mirror for good (RBAC's 403, a 400;
 *   the message is the API's): it is not in place as planned, so it is not counted as mirrored.
 *   Tried again every 2 minutes (TERMINAL_RETRY_MS: a re-applied Role sends no event), and
 *   whenever the Service, its mirror or the Link changes.
 * - SyncFailing: the sync keeps failing with an error it retries (a 5xx, a webhook failing closed,
 *   a 429): reported once it has failed SYNC_FAILING_AFTER times in a row over at least
 *   SYNC_FAILING_AFTER_MS (the queue retries within a second, so a count alone made every blip of
 *   the API server a failure); a mirror already in place is kept as it was meanwhile. Cleared by
 *   the next success.
 */
export type MirrorReason =
  | 'Mirrored'
  | 'MissingNamespace'
  | 'Conflict'
  | 'InvalidService'
  | 'UnsupportedServiceType'
  | 'PortRangeExhausted'
  | 'NotAllowed'
  | 'OwnedByIsthmus'
  | 'ApplyFailed'
  | 'SyncFailing';

/** Failures in a row before a retried sync is reported as SyncFailing… */
export const SYNC_FAILING_AFTER = 3;
/** …and for how long at least, from the first of them. */
export const SYNC_FAILING_AFTER_MS = 60_000;

export interface Skip {
  reason: Exclude<MirrorReason, 'Mirrored'>;
  message: string;
}

/** The outcome of one mirror's sync, as its status entry carries it. */
export interface MirrorStatus {
  reason: MirrorReason;
  message?: string;
}

type Check = (service: V1Service, link: LinkConfig, localCluster: string | undefined) => Skip | null;

const CHECKS: Check[] = [
  (svc, link) => {
    const labels = svc.metadata?.labels ?? {};
    if (labels[FEDERATED_SERVICE_LABEL] === 'true')
      return {
        reason: 'OwnedByIsthmus',
        message: `the Service is a federated Service that Isthmus made in ${link.clusterName} (${FEDERATED_SERVICE_LABEL}): only its members are mirrored`,
      };
    // Linkerd's mirrors carry the same label: not ours to judge.
    if (labels[MIRRORED_SERVICE_LABEL] !== 'true' || isLinkerdMirror(svc)) return null;
    return {
      reason: 'OwnedByIsthmus',
      message: `the Service is Isthmus's mirror of ${labels[CLUSTER_NAME_LABEL] ?? 'another cluster'} in ${link.clusterName} (${MIRRORED_SERVICE_LABEL}): mirrors are not mirrored again`,
    };
  },
  (svc, _link, localCluster) => {
    const allowed = allowedClustersOf(svc.metadata?.annotations);
    if (!allowed || localCluster === undefined || allowed.includes(localCluster)) return null;
    return {
      reason: 'NotAllowed',
      message: `the Service admits only cluster(s) ${allowed.join(', ') || '(none)'} (isthmus.dev/allowed-clusters), not ${localCluster}`,
    };
  },
  (svc) =>
    svc.spec?.type === 'ExternalName'
      ? { reason: 'UnsupportedServiceType', message: 'ExternalName Services are not mirrored' }
      : null,
  (svc) =>
    (svc.spec?.ports ?? []).length === 0
      ? { reason: 'InvalidService', message: 'the Service has no ports' }
      : null,
  (svc, link) => {
    const name = mirrorName(svc.metadata?.name ?? '', link.clusterName);
    return name.length > MAX_SERVICE_NAME
      ? {
          reason: 'InvalidService',
          message: `mirror name ${name} is longer than ${MAX_SERVICE_NAME} characters`,
        }
      : null;
  },
];

/**
 * The most ports an EndpointSlice may carry: kube-apiserver's discovery validation `maxPorts`,
 * 20,000 since Kubernetes 1.21 (and its 1.18–1.20 patch releases; it was 100 before, which the
 * EndpointSlice controller could not honour for a Service with more ports: kubernetes#99382).
 */
export const MAX_SLICE_PORTS = 20_000;

/**
 * InvalidService for a Service whose mirror's EndpointSlice would carry more ports than the API
 * admits: the mirror Service would be created, its egress listeners opened, and then its slice
 * refused (422), leaving a mirror that routes nothing. A mirror through the gateways counts its
 * TCP ports (`tunnelledPorts`); a remote-discovery mirror every port: its slices copy the remote's,
 * which the remote's EndpointSlice controller writes with every port of the Service, so past the
 * limit there are none. Checked before any egress port is allocated (mirror-sync.ts).
 */
export function slicePortsSkip(service: V1Service, direct: boolean): Skip | null {
  const count = direct ? (service.spec?.ports ?? []).length : tunnelledPorts(service).length;
  if (count <= MAX_SLICE_PORTS) return null;
  const what = direct ? 'ports' : 'TCP ports';
  return {
    reason: 'InvalidService',
    message: `${count} ${what}: a mirror's EndpointSlice holds at most ${MAX_SLICE_PORTS} ports (the Kubernetes API's limit), so it is not mirrored`,
  };
}

export function skipReason(service: V1Service, link: LinkConfig, localCluster?: string): Skip | null {
  for (const check of CHECKS) {
    const skip = check(service, link, localCluster);
    if (skip) return skip;
  }
  return null;
}

/** A pod of a headless Service that has no per-pod mirror, and why (its own plan's status). */
export interface PodLeftOut {
  hostname: string;
  status: MirrorStatus;
}

/** Pods named in the status, with their reasons; the rest are counted (the Link's status is bounded). */
const LISTED_PODS = 3;

/**
 * The headless Service's one entry in the Link's status: the parent's own when it is not mirrored;
 * else, when pods have no per-pod mirror (its name taken, no egress port, ...), a skip naming them,
 * since such a pod is also left out of the parent and has no DNS name. PortRangeExhausted wins, as
 * the one reason the watcher retries; otherwise the first pod's reason.
 */
export function headlessStatus<T extends MirrorStatus>(
  parent: T,
  parentMirror: string,
  leftOut: readonly PodLeftOut[],
): T {
  if (parent.reason !== 'Mirrored' || leftOut.length === 0) return parent;
  const first = leftOut.find((p) => p.status.reason === 'PortRangeExhausted') ?? leftOut[0]!;
  const listed = leftOut
    .slice(0, LISTED_PODS)
    .map((p) => `pod ${p.hostname}: ${p.status.message ?? p.status.reason}`);
  if (leftOut.length > LISTED_PODS) listed.push(`${leftOut.length - LISTED_PODS} more`);
  const pods = `${leftOut.length} pod(s) left out of ${parentMirror}, without a DNS name there: ${listed.join('; ')}`;
  // The parent's own note (ports not mirrored) still holds.
  return {
    ...parent,
    reason: first.status.reason,
    message: [pods, parent.message].filter(Boolean).join('; '),
  };
}
