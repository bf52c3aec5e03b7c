/**
 * One reconciliation of one federation, keyed `namespace/name` and level-triggered: the members
 * are re-read from the caches, planned by plan-federation.ts and plan-apex-slices.ts, then applied
 * (the `<name>-federated` Service, its slices, events, metrics). A failed write throws and the work
 * queue retries it with backoff.
 */
import { applyApexSlices } from '../failover/apply-apex-slices.js';
import { readyEndpointCount } from '../failover/endpoint-readiness.js';
import type { EventSink } from '../failover/reconcile-split.js';
import { createOrUpdate } from '../kube/apply.js';
import type { KubeClient } from '../kube/client.js';
import { FEDERATION_AFFINITY_ANNOTATION, federatedServiceName } from '../kube/keys.js';
import { isSubsetOf } from '../kube/owned-fields.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import type { FederationMetrics } from './metrics.js';
import {
  isFederationSlice,
  isOurFederatedService,
  planFederation,
  planFederationSlices,
} from './plan-federation.js';

export interface FederationCaches {
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
  /** Per federation key: the last problem reported, so an event is recorded once per change. */
  reported: Map<string, string>;
}

export async function reconcileFederation(deps: FederationDeps, key: string): Promise<void> {
  const [namespace = '', name = ''] = key.split('/');
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
    if (plan.kind === 'conflict') await report(deps, key, existing ?? members[0], plan.reason, plan.message);
    else deps.reported.delete(key);
    return;
  }

  await createOrUpdate<V1Service>(deps.client, R.services, plan.service, {
    isOwned: isOurFederatedService,
    diff: serviceDiff,
  });
  // The slices' owner reference needs the Service's uid: a Service just created reaches the cache
  // with its watch event, which queues this key again.
  const apex = deps.caches.service(namespace, serviceName);
  if (!apex?.metadata?.uid || !isOurFederatedService(apex)) return;

  const slicesByService = new Map(
    [serviceName, ...plan.members.map((m) => m.service)].map((s) => [s, deps.caches.slicesOf(namespace, s)]),
  );
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
  const readyMembers = plan.members.filter(
    (m) => readyEndpointCount(slicesByService.get(m.service) ?? []) > 0,
  );
  deps.metrics.set(namespace, name, plan.members.length, readyMembers.length);

  const problems = [...plan.problems, ...(slices.ok ? slices.problems : [slices.message])];
  if (applied.notOwned.length) {
    problems.push(`EndpointSlice ${applied.notOwned.join(', ')} exists and is not Isthmus's`);
  }
  if (problems.length) await report(deps, key, apex, 'FederationProblem', problems.join('; '));
  else deps.reported.delete(key);
}

/**
 * The merge patch for a federated Service: the owned fields when they differ, and a null for an
 * affinity annotation the local member no longer asks for (a subset test cannot see a removal).
 */
function serviceDiff(current: V1Service, want: V1Service): Record<string, unknown> | null {
  const stale =
    current.metadata?.annotations?.[FEDERATION_AFFINITY_ANNOTATION] !== undefined &&
    want.metadata?.annotations?.[FEDERATION_AFFINITY_ANNOTATION] === undefined;
  if (!stale && isSubsetOf(owned(want), current)) return null;
  const patch = owned(want);
  if (!stale) return patch;
  const annotations = { ...patch.metadata.annotations, [FEDERATION_AFFINITY_ANNOTATION]: null };
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
