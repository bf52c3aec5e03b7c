/**
 * Apexes whose callers EndpointSlices cannot steer. Checked before planning: slices written for
 * such an apex would be reported as steering (`Steered`, `status.apexShares`) while its callers
 * never reach them, so none are written and any written before are withdrawn. The weights are
 * still decided and written: callers in a mesh follow them.
 *
 * Condition reasons (`Steered=False`), in the order checked:
 * - `ExternalNameApex`: a DNS alias. kube-proxy ignores it and CoreDNS answers a CNAME to its
 *   `externalName`; no EndpointSlice of it is ever read.
 * - `HeadlessApex` (`clusterIP: None`): kube-proxy does not handle the Service; DNS (CoreDNS's
 *   kubernetes plugin) answers with an A/AAAA record per ready address of its slices, and callers
 *   connect to that address at the apex's port. A backup's listing — for a mirror, the local
 *   gateway, whose listener for it is at the mirror's egress port — would send them to a port
 *   nothing serves.
 * - `InternalTrafficPolicyLocal`: kube-proxy (CategorizeEndpoints) gives a Local-policy Service
 *   only the endpoints whose `nodeName` is its own node, and drops the connection when there is
 *   none; Isthmus's endpoints carry no node (a mirror's stand for a gateway, not a pod on a caller's
 *   node), so every node would drop them.
 */
import type { V1Service } from '../kube/types.js';

export type ApexSkipReason = 'ExternalNameApex' | 'HeadlessApex' | 'InternalTrafficPolicyLocal';

export function apexSkipReason(apex: V1Service): { reason: ApexSkipReason; message: string } | null {
  const name = apex.metadata?.name ?? '';
  if (apex.spec?.type === 'ExternalName') {
    return {
      reason: 'ExternalNameApex',
      message:
        `apex Service ${name} is of type ExternalName: DNS answers callers with a CNAME to ` +
        `${apex.spec.externalName ?? 'its externalName'} and no EndpointSlice of it is read; none is written. ` +
        `Make the apex a ClusterIP Service to steer its callers without a mesh`,
    };
  }
  if (apex.spec?.clusterIP === 'None') {
    return {
      reason: 'HeadlessApex',
      message:
        `apex Service ${name} is headless (clusterIP: None): callers look its endpoints up in DNS and ` +
        `connect to them at the apex's own port, which a backup's listing (for a mirror, the gateway at ` +
        `its egress port) does not serve; no EndpointSlice is written. Give the apex a cluster IP to ` +
        `steer its callers without a mesh`,
    };
  }
  if (apex.spec?.internalTrafficPolicy === 'Local') {
    return {
      reason: 'InternalTrafficPolicyLocal',
      message:
        `apex Service ${name} has internalTrafficPolicy: Local: kube-proxy sends callers only to ` +
        `endpoints on their own node, and the backups Isthmus would list (for a mirror, the gateway) ` +
        `carry no node, so no caller would reach them; no EndpointSlice is written. Set ` +
        `internalTrafficPolicy: Cluster on the apex to steer its callers without a mesh`,
    };
  }
  return null;
}

/**
 * What steering cannot reach on an apex it does steer: with `externalTrafficPolicy: Local`,
 * kube-proxy sends traffic arriving through a node port or load balancer only to endpoints on
 * that node, and Isthmus's carry no node, so external callers keep the apex's own pods (or
 * nothing) while in-cluster callers, under the internal policy, are steered. Null otherwise.
 */
export function apexCaveat(apex: V1Service): string | null {
  const external = apex.spec?.type === 'LoadBalancer' || apex.spec?.type === 'NodePort';
  if (!external || apex.spec?.externalTrafficPolicy !== 'Local') return null;
  return (
    `steers in-cluster callers only: apex Service ${apex.metadata?.name ?? ''} has ` +
    `externalTrafficPolicy: Local, so traffic from outside the cluster goes to node-local endpoints, ` +
    `which the backups Isthmus lists are not`
  );
}
