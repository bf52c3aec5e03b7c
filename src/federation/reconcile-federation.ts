/**
 * One reconciliation of one federation, keyed `namespace/name` and level-triggered: the members
 * are re-read from the caches, planned by plan-federation.ts and federation-slices.ts, then applied
 * (the `<name>-federated` Service, its slices, events, metrics). A failed write throws and the work
 * queue retries it with backoff.
 */
import { applyApexSlices } from '../failover/apply-apex-slices.js';
import type { EventSink } from '../failover/reconcile-split.js';
import { createOrUpdate } from '../kube/apply.js';
import type { KubeClient } from '../kube/client.js';
import {
  FEDERATION_AFFINITY_ANNOTATION,
  FEDERATION_NO_MATCHING_PORT_ANNOTATION,
  federatedServiceName,
} from '../kube/keys.js';
import { isSubsetOf } from '../kube/owned-fields.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice, V1Namespace, V1Service } from '../kube/types.js';
import { planFederationSlices, readyMembers, standbyClusters, withStandby } from './federation-slices.js';
import type { FederationMetrics } from './metrics.js';
import { mayBeNamespaceRefusal, namespaceUsable } from './namespace-usable.js';
import {
  FEDERATION_STANDBY_ANNOTATION,
  isFederationSlice,
  isOurFederatedService,
  type MemberProblem,
  planFederation,
} from './plan-federation.js';

export interface FederationCaches {
  namespace(name: string): V1Namespace | undefined;
  service(namespace: string, name: string): V1Service | undefined;
  /** Services that belong to the federation as members (the local one, mirrors of remote ones). */
  members(namespace: string, name: string): V1Service[];
  slicesOf(namespace: string, service: string): V1EndpointSlice[];
}

export interface FederationDeps {
  client: KubeClient;
  caches: FederationCaches;
  recorder: EventSink;
  metrics: FederationMetrics;
  localCluster: string;
  /**
   * Per federation key (and `<key>#<member>` for a member's own problem): the last problem
   * reported, so an event is recorded once per change.
   */
  reported: Map<string, string>;
}

export async function reconcileFederation(deps: FederationDeps, key: string): Promise<void> {
  const [namespace = '', name = ''] = key.split('/');
  // A namespace that is missing or being deleted takes no new object (the API server refuses it):
  // nothing is written there, and its next event, once it exists again, queues this key.
  if (!namespaceUsable(deps.caches.namespace(namespace))) return forget(deps, key, namespace, name);
  try {
    await reconcileIn(deps, key, namespace, name);
  } catch (err) {
    // The cache may not show yet a namespace deleted meanwhile: the API server's answer decides.
    if (!mayBeNamespaceRefusal(err)) throw err;
    if (namespaceUsable(await deps.client.get<V1Namespace>(R.namespaces, undefined, namespace))) throw err;
    forget(deps, key, namespace, name);
  }
}

/** Nothing to report on or count for a federation whose namespace is gone or going. */
function forget(deps: FederationDeps, key: string, namespace: string, name: string): void {
  deps.metrics.forget(namespace, name);
  for (const k of deps.reported.keys()) if (k === key || k.startsWith(`${key}#`)) deps.reported.delete(k);
}

async function reconcileIn(
  deps: FederationDeps,
  key: string,
  namespace: string,
  name: string,
): Promise<void> {
  const serviceName = federatedServiceName(name);
  const members = deps.caches.members(namespace, name);
  const existing = deps.caches.service(namespace, serviceName);
  const plan = planFederation({
    namespace,
    name,
    localCluster: deps.localCluster,
    ...localAndMirrors(members, name),
    ...(existing ? { existing } : {}),
  });
  const ours = (slice: V1EndpointSlice) => isFederationSlice(slice, namespace, name);
  const ourSlices = deps.caches.slicesOf(namespace, serviceName).filter(ours);

  if (plan.kind !== 'service') {
    // Nothing to federate, or a name we may not use: withdraw whatever we wrote.
    await applyApexSlices(deps.client, namespace, [], ourSlices, ours);
    if (plan.kind === 'absent' && isOurFederatedService(existing)) {
      await deps.client.delete(R.services, namespace, serviceName);
    }
    deps.metrics.forget(namespace, name);
    // NoPorts concerns the members, which are told on their own Services below (and so is an
    // ExternalName Service labelled a member, when it is the only one).
    if (plan.kind === 'conflict' && plan.reason !== 'NoPorts') {
      await report(deps, key, existing ?? members[0], plan.reason, plan.message);
    } else deps.reported.delete(key);
    await reportMembers(deps, key, members, plan.invalidMembers);
    return;
  }
  await reportMembers(deps, key, members, plan.invalidMembers);

  const slicesByService = new Map(
    [serviceName, ...plan.members.map((m) => m.service)].map((s) => [s, deps.caches.slicesOf(namespace, s)]),
  );
  // The slices and the standby list need the stored Service (its uid owns the slices, its address
  // families say what a member can list): one just created reaches the cache with its watch event,
  // which queues this key again.
  const apex = isOurFederatedService(existing) && existing?.metadata?.uid ? existing : undefined;
  const standby = apex ? standbyClusters(apex, plan.members, slicesByService, plan.affinity) : [];
  await createOrUpdate<V1Service>(deps.client, R.services, withStandby(plan.service, standby), {
    isOwned: isOurFederatedService,
    diff: serviceDiff,
  });
  if (!apex) return;

  const slices = planFederationSlices({
    namespace,
    name,
    apex,
    members: plan.members,
    affinity: plan.affinity,
    slicesByService,
  });
  const desired = slices.ok ? slices.slices : [];
  const applied = await applyApexSlices(deps.client, namespace, desired, ourSlices, ours);
  // Ready, not serving: a member an affinity keeps on standby is ready all the same.
  const ready = readyMembers(apex, plan.members, slicesByService);
  deps.metrics.set(namespace, name, plan.members.length, ready.length);

  const problems = [...plan.problems, ...(slices.ok ? slices.problems : [slices.message])];
  if (applied.notOwned.length) {
    problems.push(`EndpointSlice ${applied.notOwned.join(', ')} exists and is not Isthmus's`);
  }
  if (problems.length) await report(deps, key, apex, 'FederationProblem', problems.join('; '));
  else deps.reported.delete(key);
}

/** Annotations Isthmus sets on a federated Service only at times, and so must remove. */
const OPTIONAL_ANNOTATIONS = [
  FEDERATION_AFFINITY_ANNOTATION,
  FEDERATION_STANDBY_ANNOTATION,
  FEDERATION_NO_MATCHING_PORT_ANNOTATION,
];

/**
 * The merge patch for a federated Service: the owned fields when they differ, and a null for an
 * optional annotation no longer wanted (an affinity the local member no longer asks for, nobody
 * left on standby, every member's ports matching): a subset test cannot see a removal.
 */
function serviceDiff(current: V1Service, want: V1Service): Record<string, unknown> | null {
  const stale = OPTIONAL_ANNOTATIONS.filter(
    (a) => current.metadata?.annotations?.[a] !== undefined && want.metadata?.annotations?.[a] === undefined,
  );
  if (!stale.length && isSubsetOf(owned(want), current)) return null;
  const patch = owned(want);
  if (!stale.length) return patch;
  const annotations = { ...patch.metadata.annotations, ...Object.fromEntries(stale.map((a) => [a, null])) };
  return { ...patch, metadata: { ...patch.metadata, annotations } };
}

/** The fields Isthmus owns on a federated Service (STYLE.md §5): the rest is the API server's. */
function owned(service: V1Service) {
  return {
    metadata: { labels: service.metadata?.labels, annotations: service.metadata?.annotations },
    spec: { type: service.spec?.type, ports: service.spec?.ports },
  };
}

function localAndMirrors(members: readonly V1Service[], name: string) {
  const local = members.find((s) => s.metadata?.name === name);
  return { ...(local ? { local } : {}), mirrors: members.filter((s) => s !== local) };
}

/**
 * A Warning event on each member Service that cannot serve, once per distinct problem: a member's
 * slot (`<key>#<service>`) is forgotten once its problem is gone, so a relapse is told again.
 */
async function reportMembers(
  deps: FederationDeps,
  key: string,
  members: readonly V1Service[],
  problems: readonly MemberProblem[],
): Promise<void> {
  const slot = (service: string) => `${key}#${service}`;
  const current = new Set(problems.map((p) => slot(p.service)));
  for (const k of deps.reported.keys()) {
    if (k.startsWith(`${key}#`) && !current.has(k)) deps.reported.delete(k);
  }
  for (const p of problems) {
    const member = members.find((s) => s.metadata?.name === p.service);
    await report(deps, slot(p.service), member, p.reason, p.message);
  }
}

/** A Warning event, once per distinct problem (a reconcile runs on every endpoint change). */
async function report(
  deps: FederationDeps,
  key: string,
  object: V1Service | undefined,
  reason: string,
  message: string,
): Promise<void> {
  if (deps.reported.get(key) === message) return;
  deps.reported.set(key, message);
  if (object) await deps.recorder.record(object, 'Warning', reason, message);
}
