/**
 * Can namespace editors redirect the gateway? The ingress dials what an exported Service's
 * EndpointSlices list (docs/design.md, "What the ingress dials"), so whoever may write them there
 * decides where the gateway connects, past the cluster's NetworkPolicies (CVE-2021-25740).
 * Kubernetes 1.22 took Endpoints writes out of the aggregated `edit` and `admin` roles of new
 * clusters (EndpointSlices were never in them); clusters upgraded from before keep them, and kube's
 * EndpointSlice mirroring controller turns a selector-less Service's Endpoints into slices. A
 * warning: some clusters grant it on purpose. A gateway started with `--dial-pod-ips-only` (the
 * install's `--gateway-dial-pod-ips-only`) dials only the IPs of running Pods of the Service's
 * namespace, which editors cannot forge: the hole is closed, whatever the roles grant.
 */
import { GATEWAY_SERVICE_NAME } from '../../../kube/keys.js';
import type { V1PolicyRule } from '../../../kube/types.js';
import type { CheckFacts, CheckResult } from '../types.js';
import { resultOf, unreadable } from './result.js';

const WHAT = 'namespace editors cannot point the gateway elsewhere';
const CLOSED = `${WHAT}: the gateway dials only the IPs of running Pods in each exported Service's namespace (--dial-pod-ips-only)`;
const FIX =
  'take it out of the role, or close the hole: isthmus upgrade --gateway-dial-pod-ips-only | kubectl apply -f - (the gateway then dials only the IPs of running Pods in each exported Service\'s namespace); see the README\'s "Security notes"';

/** The aggregated roles that namespace owners are usually bound to. */
export const EDITOR_ROLES = ['edit', 'admin'] as const;

const WRITE_VERBS = ['create', 'update', 'patch'];
const TARGETS = [
  { group: '', resource: 'endpoints', name: 'endpoints' },
  { group: 'discovery.k8s.io', resource: 'endpointslices', name: 'endpointslices.discovery.k8s.io' },
];

/** What of Endpoints and EndpointSlices `rules` let one write in any object of a namespace. */
export function endpointWrites(rules: readonly V1PolicyRule[]): string[] {
  const has = (list: readonly string[] | undefined, value: string) =>
    (list ?? []).includes('*') || (list ?? []).includes(value);
  return TARGETS.filter((t) =>
    rules.some(
      (r) =>
        (r.resourceNames ?? []).length === 0 &&
        has(r.apiGroups, t.group) &&
        has(r.resources, t.resource) &&
        WRITE_VERBS.some((v) => has(r.verbs, v)),
    ),
  ).map((t) => t.name);
}

/**
 * Whether the installed gateway Deployment starts the gateway with `--dial-pod-ips-only`. A
 * Deployment that cannot be read, or is not there, is taken as not: the warning then names the fix.
 */
export function gatewayDialsPodIPsOnly(facts: Pick<CheckFacts, 'deployments'>): boolean {
  if (!facts.deployments.ok) return false;
  const gateway = facts.deployments.value.find((d) => d.name === GATEWAY_SERVICE_NAME);
  return gateway?.args?.includes('--dial-pod-ips-only') === true;
}

export function checkEndpointWriters(facts: CheckFacts): CheckResult {
  // Only an exporting gateway dials slices; a --no-gateway install has nothing to redirect.
  if (!facts.gatewayInstalled) return resultOf(WHAT, []);
  if (gatewayDialsPodIPsOnly(facts)) return resultOf(CLOSED, []);
  const blocked = unreadable(WHAT, 'ClusterRoles edit and admin', facts.endpointWriters);
  if (blocked || !facts.endpointWriters.ok) return blocked!;
  const warnings = Object.entries(facts.endpointWriters.value)
    .filter(([, writes]) => writes.length > 0)
    .map(([role, writes]) => {
      const mirrored = writes.includes('endpoints')
        ? " (kube's EndpointSlice mirroring turns them into slices)"
        : '';
      return `ClusterRole ${role} lets namespace editors write ${writes.join(' and ')}${mirrored}: whoever may edit an exporting namespace can point this cluster's gateway at any address it reaches, past NetworkPolicies (CVE-2021-25740; Kubernetes 1.22 dropped it for new clusters, upgraded ones keep it); ${FIX}`;
    });
  return resultOf(WHAT, [], warnings);
}
