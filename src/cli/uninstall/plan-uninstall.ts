/**
 * `isthmus uninstall` (Linkerd's `multicluster uninstall`): what to delete, decided from what the
 * cluster holds. Pure. It refuses while deleting would lose something or strand it:
 * - a Link: the controller removes a Link's mirrors only while it runs, so unlink first;
 * - a TrafficSplit under the TrafficSplit CRD the install created: deleting the CRD deletes
 *   every TrafficSplit with it, and they are the user's, not ours. An install made with
 *   `--no-traffic-split-crd` (its record says so) keeps that CRD, as `--keep-traffic-split-crd`.
 * What is deleted besides the install's own objects: mirrors left behind (a controller that was
 * down when a Link went), the failover controller's apex EndpointSlices, which would keep
 * steering an apex Service to egress ports nobody serves, and federated Services (`<name>-federated`)
 * with their slices. Namespaces created for mirrors
 * (`enableNamespaceCreation`) are kept: they may hold more than mirrors by now.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import type { KubeObject, Link, TrafficSplit } from '../../kube/types.js';
import { INSTALL_RECORD_CONFIGMAP } from '../install/install-record.js';
import { TRAFFIC_SPLIT_CRD } from '../install/options.js';

export { TRAFFIC_SPLIT_CRD };

/**
 * Whether the install was made with `--no-traffic-split-crd` (its record, the isthmus-config
 * ConfigMap, says so): the CRD is another chart's then, even if an earlier install labelled it ours.
 * A record that cannot be read says nothing.
 */
function installLeftOutSplitCrd(installed: readonly KubeObject[]): boolean {
  const record = installed.find(
    (o) =>
      o.kind === 'ConfigMap' &&
      o.metadata?.namespace === SYSTEM_NAMESPACE &&
      o.metadata?.name === INSTALL_RECORD_CONFIGMAP,
  ) as V1ConfigMap | undefined;
  try {
    const flags = parse(record?.data?.flags ?? '') as Record<string, unknown> | null;
    return flags?.['no-traffic-split-crd'] === true;
  } catch {
    return false;
  }
}

export interface UninstallFacts {
  links: Link[];
  trafficSplits: TrafficSplit[];
  /**
   * Objects labelled app.kubernetes.io/part-of=isthmus, of the kinds `isthmus install` renders, and
   * the isthmus-crl ConfigMap (made by the user, unlabelled, after `isthmus certs revoke`).
   */
  installed: KubeObject[];
  /** Mirror Services and EndpointSlices, the failover controller's apex EndpointSlices, federated Services and theirs. */
  leftovers: KubeObject[];
  /** Namespaces labelled as created for mirrors. */
  mirrorNamespaces: string[];
}

export type UninstallPlan =
  | { ok: true; objects: KubeObject[]; notes: string[] }
  | { ok: false; problems: string[] };

/**
 * Deletion order, for one `kubectl delete -f -` that removes everything and exits 0:
 * - the admission policy's binding and the policy (`--admission-policy`) before anything: they let
 *   only isthmus-controller delete an Isthmus-managed EndpointSlice, and the leftovers deleted
 *   below are deleted by whoever runs kubectl. (The API server drops a deleted binding from its
 *   cache within moments, not at once: a slice refused in that window is deleted by running the
 *   same `kubectl delete -f -` again);
 * - then the RBAC bindings. `kubectl delete` waits for no pod: the controller runs on for a while
 *   after its Deployment is deleted (its grace period, or longer on a node that is gone) and would
 *   re-create every federated Service, apex slice or mirror deleted after it. Without its bindings
 *   the API server refuses it (403) whatever it still runs;
 * - then what runs, and what it serves;
 * - an EndpointSlice before the Service that owns it (ownerReference): the garbage collector
 *   deletes it with its owner (background propagation, kubectl's default), and `kubectl delete` of
 *   one already gone fails with NotFound. Apex slices are owned by a TrafficSplit, which stays;
 * - roles and accounts, definitions and the namespace last.
 */
const ORDER = [
  'ValidatingAdmissionPolicyBinding',
  'ValidatingAdmissionPolicy',
  'ClusterRoleBinding',
  'RoleBinding',
  'Deployment',
  'PodDisruptionBudget',
  'NetworkPolicy',
  'EndpointSlice',
  'Service',
  'ConfigMap',
  'Secret',
  'Role',
  'ClusterRole',
  'ServiceAccount',
  'CustomResourceDefinition',
  'Namespace',
];

export const nameOf = (o: KubeObject) =>
  o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name ?? ''}` : (o.metadata?.name ?? '');

export function listed(names: string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

export function planUninstall(facts: UninstallFacts, opts: { keepTrafficSplitCrd: boolean }): UninstallPlan {
  const problems: string[] = [];
  for (const link of facts.links) {
    const cluster = link.spec?.targetClusterName ?? link.metadata?.name ?? '';
    problems.push(
      `Link ${nameOf(link)} remains: unlink it first (isthmus unlink --cluster-name ${cluster} --wait), so that the controller removes its mirrors`,
    );
  }
  const leftOut = installLeftOutSplitCrd(facts.installed);
  const keepSplitCrd = opts.keepTrafficSplitCrd || leftOut;
  const deletesSplitCrd =
    !keepSplitCrd &&
    facts.installed.some(
      (o) => o.kind === 'CustomResourceDefinition' && o.metadata?.name === TRAFFIC_SPLIT_CRD,
    );
  if (deletesSplitCrd && facts.trafficSplits.length > 0) {
    problems.push(
      `${facts.trafficSplits.length} TrafficSplit(s) (${listed(facts.trafficSplits.map(nameOf))}) would be deleted with the TrafficSplit CRD: delete them first, or keep the CRD with --keep-traffic-split-crd`,
    );
  }
  if (problems.length > 0) return { ok: false, problems };

  const objects = deletionList(
    [...facts.installed, ...facts.leftovers].filter(
      (o) =>
        !(keepSplitCrd && o.kind === 'CustomResourceDefinition' && o.metadata?.name === TRAFFIC_SPLIT_CRD),
    ),
  );
  const notes: string[] = [];
  if (facts.leftovers.length > 0) {
    notes.push(
      `also deleting ${facts.leftovers.length} mirror, failover or federation object(s) no controller owns any more`,
    );
  }
  if (keepSplitCrd) {
    const why = leftOut ? ' (the install was made with --no-traffic-split-crd)' : '';
    notes.push(`keeping the CRD ${TRAFFIC_SPLIT_CRD} and its TrafficSplits${why}`);
  }
  if (facts.mirrorNamespaces.length > 0) {
    notes.push(`keeping namespace(s) created for mirrors: ${listed(facts.mirrorNamespaces)}`);
  }
  return { ok: true, objects, notes };
}

/** Bare references (what `kubectl delete -f` needs), in deletion order. */
export function deletionList(objects: readonly KubeObject[]): KubeObject[] {
  return objects
    .map((o) => ({
      apiVersion: o.apiVersion ?? '',
      kind: o.kind ?? '',
      metadata: {
        name: o.metadata?.name ?? '',
        ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
      },
    }))
    .sort((a, b) => rank(a.kind) - rank(b.kind));
}

function rank(kind: string): number {
  const i = ORDER.indexOf(kind);
  return i < 0 ? ORDER.length : i;
}
