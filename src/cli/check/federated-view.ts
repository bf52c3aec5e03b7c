/**
 * `isthmus federated`: one row per federated Service (`<name>-federated`): its member clusters,
 * and the clusters whose endpoints it lists now with how many (pure rows, for a table or JSON/YAML).
 */

import {
  FEDERATION_STANDBY_ANNOTATION,
  isLocalMember,
  memberFederation,
  planFederation,
} from '../../federation/plan-federation.js';
import type { KubeClient } from '../../kube/client.js';
import {
  CLUSTER_NAME_LABEL,
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
  FEDERATED_SERVICE_LABEL,
  FEDERATION_AFFINITY_ANNOTATION,
  FEDERATION_LABEL,
  FEDERATION_MEMBERS_ANNOTATION,
  FEDERATION_NO_MATCHING_PORT_ANNOTATION,
  federatedServiceName,
  INSTALL_CLUSTER_NAME_LABEL,
  MANAGED_BY_FEDERATION,
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1EndpointSlice, V1Namespace, V1Service } from '../../kube/types.js';
import { plainTable } from '../../plain-table.js';

export interface FederatedRow {
  namespace: string;
  service: string;
  members: string[];
  /** `none`, or the side that takes traffic while it can (`isthmus.dev/federation-affinity`). */
  affinity: string;
  /** Ready endpoints listed per member cluster; a member without any is not serving. */
  serving: Record<string, number>;
  /**
   * Members the affinity holds on standby, as the controller decided (they are ready): a member
   * neither serving nor here has no ready endpoint. Absent in rows from older versions.
   */
  standby?: string[];
  /**
   * Members none of whose ports is named as a port of the federated Service, as the controller
   * decided: they serve nothing however ready their pods. Absent in rows from older versions.
   */
  noMatchingPort?: string[];
  /**
   * Why the federated Service cannot exist, as the controller's plan says (it only tells the
   * members in Warning events): its name is too long, or a Service not Isthmus's holds it. Such a
   * row is for a Service that does not exist; its members serve nothing through it.
   */
  blocked?: { reason: BlockedReason; message: string };
}

/** The plan's conflicts that leave members without a federated Service (NoPorts is told per member). */
type BlockedReason = 'NameTooLong' | 'NotOwned';
const BLOCKED: readonly string[] = ['NameTooLong', 'NotOwned'] satisfies BlockedReason[];

/** How `isthmus federated` and `isthmus check` name a member that serves nothing and is not on standby. */
export const NO_READY_ENDPOINT = 'no ready endpoint';
/** How `isthmus federated` names, more precisely, a member that serves nothing as its ports are named otherwise. */
export const NO_MATCHING_PORT = 'no matching port';

export function federatedRows(
  services: readonly V1Service[],
  slices: readonly V1EndpointSlice[],
): FederatedRow[] {
  return services
    .map((svc) => {
      const namespace = svc.metadata?.namespace ?? '';
      const service = svc.metadata?.name ?? '';
      // Per cluster and address family: a dual-stack Service lists each dual-stack pod once per
      // family, so a cluster serves with as many endpoints as its best-listed family has.
      const perFamily = new Map<string, Map<string, number>>();
      for (const slice of slices) {
        const labels = slice.metadata?.labels ?? {};
        if (slice.metadata?.namespace !== namespace || labels[SERVICE_NAME_LABEL] !== service) continue;
        const ready = (slice.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
        const cluster = labels[CLUSTER_NAME_LABEL] ?? '?';
        const families = perFamily.get(cluster) ?? new Map<string, number>();
        perFamily.set(cluster, families);
        families.set(slice.addressType, (families.get(slice.addressType) ?? 0) + ready);
      }
      const serving: Record<string, number> = {};
      for (const [cluster, families] of perFamily) {
        const ready = Math.max(...families.values());
        if (ready > 0) serving[cluster] = ready;
      }
      const annotations = svc.metadata?.annotations ?? {};
      const members = listed(annotations[FEDERATION_MEMBERS_ANNOTATION]);
      const affinity = annotations[FEDERATION_AFFINITY_ANNOTATION] ?? 'none';
      const standby = listed(annotations[FEDERATION_STANDBY_ANNOTATION]);
      const noMatchingPort = listed(annotations[FEDERATION_NO_MATCHING_PORT_ANNOTATION]);
      return { namespace, service, members, affinity, serving, standby, noMatchingPort };
    })
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.service.localeCompare(b.service));
}

/**
 * The federations whose `<name>-federated` cannot exist, from their members (the local Service and
 * the mirrors of remote ones, as the federation controller groups them) and whatever holds the
 * name: the controller's own plan (planFederation) decides, so the two never disagree.
 */
export function blockedFederationRows(
  members: readonly V1Service[],
  holders: readonly V1Service[],
  localCluster: string,
): FederatedRow[] {
  const byFederation = new Map<string, V1Service[]>();
  for (const svc of members) {
    const name = memberFederation(svc);
    if (name === undefined) continue;
    const key = `${svc.metadata?.namespace ?? ''}/${name}`;
    byFederation.set(key, [...(byFederation.get(key) ?? []), svc]);
  }
  const rows: FederatedRow[] = [];
  for (const [key, services] of byFederation) {
    const [namespace = '', name = ''] = key.split('/');
    const service = federatedServiceName(name);
    const local = services.find((s) => s.metadata?.name === name && isLocalMember(s));
    const mirrors = services.filter((s) => s !== local);
    const existing = holders.find((s) => s.metadata?.namespace === namespace && s.metadata?.name === service);
    const plan = planFederation({
      namespace,
      name,
      localCluster,
      ...(local ? { local } : {}),
      mirrors,
      ...(existing ? { existing } : {}),
    });
    if (plan.kind !== 'conflict' || !BLOCKED.includes(plan.reason)) continue;
    const remote = mirrors.map((s) => s.metadata?.labels?.[CLUSTER_NAME_LABEL] ?? '?').sort();
    rows.push({
      namespace,
      service,
      members: [...(local ? [localCluster] : []), ...remote],
      affinity: 'none',
      serving: {},
      blocked: { reason: plan.reason as BlockedReason, message: plan.message },
    });
  }
  return rows;
}

export async function readFederatedRows(client: KubeClient, namespace?: string): Promise<FederatedRow[]> {
  const scope = namespace ? { namespace } : {};
  const [services, slices, locals, mirrors, install] = await Promise.all([
    client.list<V1Service>(R.services, { ...scope, labelSelector: `${FEDERATED_SERVICE_LABEL}=true` }),
    client.list<V1EndpointSlice>(R.endpointSlices, {
      ...scope,
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_FEDERATION}`,
    }),
    client.list<V1Service>(R.services, { ...scope, labelSelector: `${FEDERATED_LABEL}=${FEDERATED_MEMBER}` }),
    client.list<V1Service>(R.services, { ...scope, labelSelector: FEDERATION_LABEL }),
    // Only names the local member: a caller who may not read it still gets the rows.
    client.get<V1Namespace>(R.namespaces, undefined, SYSTEM_NAMESPACE).catch(() => undefined),
  ]);
  const members = [...locals.items, ...mirrors.items];
  // What holds the federated name of a federation without an Isthmus Service of that name.
  const ours = new Set(services.items.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`));
  const wanted = new Set(
    members
      .map((s) => [s.metadata?.namespace ?? '', memberFederation(s)] as const)
      .filter(([ns, name]) => name !== undefined && !ours.has(`${ns}/${federatedServiceName(name)}`))
      .map(([ns, name]) => `${ns}/${federatedServiceName(name!)}`),
  );
  const holders = await Promise.all(
    [...wanted].map((key) => {
      const [ns = '', name = ''] = key.split('/');
      return client.get<V1Service>(R.services, ns, name);
    }),
  );
  // The install records this cluster's name; the controller was started with the same one.
  const localCluster = install?.metadata?.labels?.[INSTALL_CLUSTER_NAME_LABEL] ?? 'this cluster';
  const blocked = blockedFederationRows(
    members,
    holders.filter((h): h is V1Service => h !== undefined),
    localCluster,
  );
  return [...federatedRows(services.items, slices.items), ...blocked].sort(
    (a, b) => a.namespace.localeCompare(b.namespace) || a.service.localeCompare(b.service),
  );
}

/**
 * The table, or, with no row, what was looked for and where: `scope.namespace` is the namespace
 * `-n` gave (none: every namespace).
 */
export function renderFederatedTable(
  rows: readonly FederatedRow[],
  scope: { namespace?: string } = {},
): string {
  const label = `${FEDERATED_LABEL}=${FEDERATED_MEMBER}`;
  if (rows.length === 0 && scope.namespace) {
    const ns = scope.namespace;
    return `No federated services in namespace ${ns}: no Service labelled ${label} in ${ns}, here or in a linked cluster (without -n, isthmus federated looks in every namespace).\n`;
  }
  if (rows.length === 0) {
    return `No federated services in any namespace: no Service labelled ${label} here or in a linked cluster.\n`;
  }
  return plainTable(
    ['NAMESPACE', 'SERVICE', 'MEMBERS', 'AFFINITY', 'SERVING (ENDPOINTS)'],
    rows.map((r) => [
      r.namespace,
      r.service,
      r.members.join(',') || '-',
      r.affinity,
      r.blocked
        ? `not created: ${r.blocked.reason}: ${r.blocked.message}`
        : r.members.map((m) => `${m} (${servingCell(r, m)})`).join(', ') || '-',
    ]),
  );
}

/**
 * What a member contributes: its endpoints, `standby` when the controller says an affinity holds
 * it back (the slices alone cannot tell that from a member whose pods are all unready), else none.
 */
export function servingLabel(row: FederatedRow, member: string): string {
  const n = row.serving[member] ?? 0;
  if (n > 0) return String(n);
  return row.standby?.includes(member) ? 'standby' : NO_READY_ENDPOINT;
}

/**
 * The table's word for a member: servingLabel, and `no matching port` for a member without a ready
 * endpoint whose ports the controller found all named otherwise (`isthmus check` still counts it
 * among those with no ready endpoint: it serves nothing all the same).
 */
function servingCell(row: FederatedRow, member: string): string {
  const label = servingLabel(row, member);
  return label === NO_READY_ENDPOINT && row.noMatchingPort?.includes(member) ? NO_MATCHING_PORT : label;
}

function listed(annotation: string | undefined): string[] {
  return (annotation ?? '').split(',').filter(Boolean);
}
