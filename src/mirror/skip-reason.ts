/**
 * Why a remote Service is not mirrored. One ordered list; the first match wins, and the same
 * reason string goes to the Link status, the Warning Event and the log (house style 4; Linkerd's
 * service mirror reports MissingNamespace / InvalidService the same way).
 */
import type { V1Service } from '../kube/types.js';
import type { LinkConfig } from './link-config.js';
import { MAX_SERVICE_NAME, mirrorName } from './mirror-objects.js';

/**
 * Status reasons of a per-service entry in Link status.
 * - Mirrored: the mirror and its EndpointSlice are in place.
 * - MissingNamespace: the namespace does not exist locally; mirrored as soon as it appears.
 * - Conflict: a local object of the mirror's name is not ours; never overwritten.
 * - InvalidService: the mirror's name would exceed 63 characters, or the Service has no ports.
 * - UnsupportedServiceType: ExternalName Services have no endpoints to tunnel to.
 * - PortRangeExhausted: no egress port left in the configured range.
 */
export type MirrorReason =
  | 'Mirrored'
  | 'MissingNamespace'
  | 'Conflict'
  | 'InvalidService'
  | 'UnsupportedServiceType'
  | 'PortRangeExhausted';

export interface Skip {
  reason: Exclude<MirrorReason, 'Mirrored'>;
  message: string;
}

type Check = (service: V1Service, link: LinkConfig) => Skip | null;

const CHECKS: Check[] = [
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

export function skipReason(service: V1Service, link: LinkConfig): Skip | null {
  for (const check of CHECKS) {
    const skip = check(service, link);
    if (skip) return skip;
  }
  return null;
}
