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
import { MAX_SERVICE_NAME, mirrorName } from './mirror-objects.js';

/**
 * Status reasons of a per-service entry in Link status.
 * - Mirrored: the mirror and its EndpointSlice are in place.
 * - MissingNamespace: the namespace does not exist locally; mirrored as soon as it appears.
 * - Conflict: a local object of the mirror's name is not ours; never overwritten.
 * - InvalidService: the mirror's name would exceed 63 characters, the Service has no ports, or the
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
 *   Tried again when the Service, its mirror or the Link changes, or the controller restarts.
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
  | 'ApplyFailed';

export interface Skip {
  reason: Exclude<MirrorReason, 'Mirrored'>;
  message: string;
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

export function skipReason(service: V1Service, link: LinkConfig, localCluster?: string): Skip | null {
  for (const check of CHECKS) {
    const skip = check(service, link, localCluster);
    if (skip) return skip;
  }
  return null;
}
