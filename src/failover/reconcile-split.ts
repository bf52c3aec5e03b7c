/**
 * One reconciliation of one TrafficSplit, keyed `namespace/name` and level-triggered: everything is
 * re-read from the informer caches, decided by the pure functions of this folder, then applied
 * (weights patch and status: split-writes.ts; apex slices, events, metric). A failed write throws,
 * and the work queue retries it with backoff; nothing is remembered as done until it is.
 */
import type { KubeClient } from '../kube/client.js';
import { SERVICE_NAME_LABEL } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { KubeObject, TrafficSplit, V1EndpointSlice, V1Service } from '../kube/types.js';
import { apexCaveat, apexSkipReason } from './apex-skip-reason.js';
import { applyApexSlices, isSliceOfSplit } from './apply-apex-slices.js';
import { resolvedRefsCondition } from './backend-refs.js';
import {
  decideWeights,
  type FailoverEvent,
  type FailoverMemory,
  memoryFor,
  onBackups,
  overwrittenEvent,
  sameWeights,
  steerOnlyState,
} from './decide-weights.js';
import { readyEndpointCount } from './endpoint-readiness.js';
import { type FailoverMetrics, failoverGauges } from './metrics.js';
import { type ParsedBackend, type ParsedSplit, parseSplit, writtenWeights } from './parse-split.js';
import { planApexSlices, splitSliceLabels } from './plan-apex-slices.js';
import { apexRivals, isClaimed, splitMode } from './split-selection.js';
import {
  APEX_LOST_REASONS,
  availableCondition,
  type ConditionInput,
  invalidSplitTraffic,
  reachedWithoutWeight,
  restoreAfterCondition,
  type SplitOutcome,
  type SplitState,
  sharesMessage,
} from './split-status.js';
import { clearStatus, currentStatus, forgetStatus, patchWeights, writeStatus } from './split-writes.js';

/** The status writes publish it (split-writes.ts); re-exported for subscribers that import it from here. */
export { statusUnsupportedChannel } from './split-writes.js';

export interface FailoverCaches {
  split(namespace: string, name: string): TrafficSplit | undefined;
  /** Every TrafficSplit of the namespace, whoever handles it. */
  splitsIn(namespace: string): TrafficSplit[];
  service(namespace: string, name: string): V1Service | undefined;
  /** Slices labelled `kubernetes.io/service-name=<service>`, Isthmus's own included. */
  slicesOf(namespace: string, service: string): V1EndpointSlice[];
  /** Isthmus's apex slices written for this split. */
  splitSlices(namespace: string, split: string): V1EndpointSlice[];
}

export interface EventSink {
  record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export interface ReconcileDeps {
  client: KubeClient;
  caches: FailoverCaches;
  recorder: EventSink;
  metrics: FailoverMetrics;
  controlledBy: string;
  now: () => number;
  /** Per split key: the last decision that was applied (hysteresis and event state). */
  memories: Map<string, FailoverMemory>;
  requeueAfter: (key: string, ms: number) => void;
}

const ok = (reason: string, message: string): ConditionInput => ({ status: true, reason, message });
const bad = (reason: string, message: string): ConditionInput => ({ status: false, reason, message });

export async function reconcileSplit(deps: ReconcileDeps, key: string): Promise<void> {
  const [namespace = '', name = ''] = key.split('/');
  const split = await splitToDecide(deps, key, deps.caches.split(namespace, name));
  const mode = split ? splitMode(split, deps.controlledBy) : null;
  if (!split || !mode) {
    deps.memories.delete(key);
    forgetStatus(deps, key);
    deps.metrics.active.remove({ namespace, split: name });
    deps.metrics.nothingReady.remove({ namespace, split: name });
    // Another controlled-by value's split: its apex slices and status are that controller's, which
    // takes over any we wrote (and resumes from the status). Gone or nobody's: withdraw the slices
    // (traffic falls back to the apex's own endpoints; owner references would let a real cluster's
    // GC do it for a deleted split), and clear the status, which no one keeps true any more.
    if (!split || !isClaimed(split)) await withdrawSlices(deps, namespace, name);
    if (split && !isClaimed(split)) await clearStatus(deps.client, split);
    return;
  }

  const parsed = parseSplit(split);
  if (!parsed.ok) {
    // Invalid: weights and slices stay as they are, and the gauge still reads the weights, as
    // written (so a restarted controller reports a split left on its backups as the last one did);
    // only the status and an event say why.
    const written = writtenWeights(split);
    const apex = split.spec?.service ?? '';
    const apexExists = apex !== '' && deps.caches.service(namespace, apex) !== undefined;
    const readyOf = (svc: string) => readyEndpointCount(backendSlices(deps.caches, namespace, svc));
    const refused = currentStatus(deps, key, split)?.conditions?.find((c) => c.type === 'Accepted');
    const changed = await writeStatus(deps, key, split, {
      generation: split.metadata?.generation,
      state: 'Invalid',
      activeBackends: invalidSplitTraffic(apex, apexExists, written.backends, readyOf),
      conditions: { Accepted: bad(parsed.reason, parsed.message) },
    });
    const failedOver = mode === 'failover' && onBackups(written.backends, written.primary);
    setGauges(
      deps,
      namespace,
      name,
      failoverGauges({ onBackups: failedOver, state: 'Invalid', steersNothing: !apexExists }),
    );
    // activeBackends follows readiness: only a new refusal is news.
    const news =
      refused?.status !== 'False' || refused.reason !== parsed.reason || refused.message !== parsed.message;
    if (changed && news) await deps.recorder.record(split, 'Warning', parsed.reason, parsed.message);
    return;
  }
  const s = parsed.split;
  const conditions: SplitOutcome['conditions'] = {
    Accepted: ok('Valid', `apex ${s.apex}, primary ${s.primary}`),
  };
  const warnings: [string, string][] = [];

  conditions.ResolvedRefs = resolvedRefsCondition(
    s.backends.map((b) => b.service),
    (svc) => deps.caches.service(namespace, svc) !== undefined,
  );
  if (!conditions.ResolvedRefs.status)
    warnings.push([conditions.ResolvedRefs.reason, conditions.ResolvedRefs.message]);

  const readiness = new Map(
    s.backends.map((b) => [b.service, readyEndpointCount(backendSlices(deps.caches, namespace, b.service))]),
  );

  let state: Exclude<SplitState, 'Invalid'>;
  let activeBackends: string[];
  let weights: readonly ParsedBackend[];
  let memory: FailoverMemory | undefined;
  const events: FailoverEvent[] = [];
  if (mode === 'failover') {
    const uid = split.metadata?.uid ?? '';
    const previous = memoryFor(deps.memories.get(key), s, uid, currentStatus(deps, key, split)?.state);
    const decision = decideWeights(s, readiness, deps.now(), previous);
    if (decision.changed) {
      const found = await patchWeights(deps.client, split, decision.weights);
      // Written: what the split was left with is known now, whatever fails next (a retry must
      // not take the controller's own weights for a hand edit).
      deps.memories.set(key, { ...previous, weights: decision.weights });
      const overwritten = found && overwrittenEvent(found, previous.weights, decision.weights);
      if (overwritten) events.push(overwritten);
    }
    if (decision.requeueAfterMs !== undefined) deps.requeueAfter(key, decision.requeueAfterMs);
    ({ state, activeBackends, weights, memory } = decision);
    if (decision.event) events.push(decision.event);
  } else {
    // Its weights are the user's now: back in failover mode it resumes from them, as a split the
    // controller never saw (a Fallback and a wait remembered from before would be stale).
    deps.memories.delete(key);
    ({ state, activeBackends } = steerOnlyState(s, readiness));
    weights = s.backends;
  }
  const steering = await steerApex(deps, split, s, weights);
  // Where traffic goes, for callers with a mesh (the weights) and without one (the apex).
  const apexOnly = reachedWithoutWeight(state, activeBackends, steering.shares);
  conditions.Available = availableCondition(mode, state, activeBackends, apexOnly);
  // No apex, or another split's: no caller reaches a backend through this split.
  const apexLost = !steering.condition.status && APEX_LOST_REASONS.includes(steering.condition.reason);
  const trafficOn = apexLost
    ? []
    : s.backends.map((b) => b.service).filter((b) => activeBackends.includes(b) || apexOnly.includes(b));
  conditions.Steered = steering.condition;
  if (!steering.condition.status) warnings.push([steering.condition.reason, steering.condition.message]);
  else if (steering.rivals) warnings.push(['ApexConflict', steering.condition.message]);
  // A steer-only split's weights are the user's: restore-after has nothing to hold there.
  const restoreAfter =
    mode === 'failover' ? restoreAfterCondition(s, deps.caches.service(namespace, s.apex)) : undefined;
  if (restoreAfter) conditions.RestoreAfter = restoreAfter;
  if (restoreAfter && !restoreAfter.status) warnings.push([restoreAfter.reason, restoreAfter.message]);

  const changed = await writeStatus(deps, key, split, {
    generation: split.metadata?.generation,
    state,
    activeBackends: trafficOn,
    conditions,
    ...(steering.shares ? { shares: steering.shares } : {}),
  });
  if (memory) deps.memories.set(key, memory);
  // A steer-only split's weights are the user's: never a failover, whatever backend they favour.
  const failedOver = mode === 'failover' && onBackups(weights, s.primary);
  setGauges(deps, namespace, name, failoverGauges({ onBackups: failedOver, state, steersNothing: apexLost }));
  for (const event of events) await deps.recorder.record(split, event.type, event.reason, event.message);
  if (changed)
    for (const [reason, message] of warnings) await deps.recorder.record(split, 'Warning', reason, message);
}

/**
 * The split to decide on: the cached one, unless its weights are not those the controller left this
 * split object with. Then either the informer has not yet seen the controller's own patch, or
 * someone edited them, and only the API server tells which: decided on a cache a step behind, the
 * controller took its own previous weights for the split's (a primary back within the lag skipped
 * restore-after; a NothingReady or unchanged decision remembered them as left, so its next patch
 * reported its own weights as a hand edit). The reads stop once the cache agrees with the memory
 * again, or a decision on the read weights is remembered (a hand edit kept is remembered as left).
 */
async function splitToDecide(
  deps: ReconcileDeps,
  key: string,
  cached: TrafficSplit | undefined,
): Promise<TrafficSplit | undefined> {
  const left = deps.memories.get(key);
  const uid = cached?.metadata?.uid;
  if (!cached || !left?.weights || left.uid !== uid) return cached;
  // An Invalid split's weights are not decided on (nor remembered): no read for them.
  if (!parseSplit(cached).ok || sameWeights(writtenWeights(cached).backends, left.weights)) return cached;
  const { namespace, name = '' } = cached.metadata ?? {};
  // Read as the informer lists it (v1alpha2): the apex slices' owner references carry the split's
  // apiVersion, and a v1alpha1 copy would rewrite them, and back at the next reconcile.
  const live = await deps.client.get<TrafficSplit>(R.trafficSplitsV1alpha2, namespace, name);
  // Gone or created again: the cache's events for that are on their way.
  return live?.metadata?.uid === uid ? live : cached;
}

/**
 * A backend's slices, none when its Service is gone: slices outlive their Service (hand-written
 * ones without an owner, GC lag), and a missing backend counts as having no ready endpoint.
 */
function backendSlices(caches: FailoverCaches, namespace: string, service: string): V1EndpointSlice[] {
  return caches.service(namespace, service) ? caches.slicesOf(namespace, service) : [];
}

function setGauges(
  deps: ReconcileDeps,
  namespace: string,
  split: string,
  values: ReturnType<typeof failoverGauges>,
): void {
  deps.metrics.active.set({ namespace, split }, values.active);
  deps.metrics.nothingReady.set({ namespace, split }, values.nothingReady);
}

async function steerApex(
  deps: ReconcileDeps,
  split: TrafficSplit,
  s: ParsedSplit,
  weights: readonly ParsedBackend[],
): Promise<{ condition: ConditionInput; shares?: SplitOutcome['shares']; rivals?: string }> {
  const apex = deps.caches.service(s.namespace, s.apex);
  // The split may have been moved off an apex it steered: nothing may keep steering the old one.
  if (!apex) return withdrawn(deps, s, bad('ApexNotFound', `no Service named ${s.apex}`));
  const skip = apexSkipReason(apex);
  if (skip) return withdrawn(deps, s, bad(skip.reason, skip.message));
  const hasApexSlices = (other: TrafficSplit) =>
    deps.caches
      .splitSlices(s.namespace, other.metadata?.name ?? '')
      .some((slice) => slice.metadata?.labels?.[SERVICE_NAME_LABEL] === s.apex);
  const [steerer, ...others] = apexRivals(
    deps.caches.splitsIn(s.namespace),
    s.namespace,
    s.apex,
    hasApexSlices,
  );
  const steererName = steerer?.metadata?.name ?? s.name;
  if (steerer && steererName !== s.name) {
    // An Invalid split holds the apex only through the slices it kept (apexRivals).
    const how = parseSplit(steerer).ok
      ? 'steers it (the oldest split of an apex does, then the first by name)'
      : 'steers it with the EndpointSlices it wrote before it became Invalid, kept until it is fixed or deleted (the oldest split of an apex steers it, then the first by name)';
    const message =
      `TrafficSplit ${steererName} also has apex ${s.apex} and ${how}: this split's EndpointSlices are ` +
      `withdrawn, as kube-proxy would mix both splits' traffic. Give the apex one split`;
    return withdrawn(deps, s, bad('ApexConflict', message));
  }
  const rivals = others.map((o) => o.metadata?.name ?? '').join(', ');
  const slicesByService = new Map(
    [s.apex, ...weights.map((b) => b.service)].map((svc) => [
      svc,
      backendSlices(deps.caches, s.namespace, svc),
    ]),
  );
  const owner = {
    apiVersion: split.apiVersion ?? 'split.smi-spec.io/v1alpha2',
    kind: 'TrafficSplit',
    name: s.name,
    uid: split.metadata?.uid ?? '',
    labels: splitSliceLabels(s.name),
  };
  const plan = planApexSlices({ namespace: s.namespace, apex, owner, weights, slicesByService });
  if (!plan.ok) return withdrawn(deps, s, bad(plan.reason, plan.message));
  const applied = await applyApexSlices(
    deps.client,
    s.namespace,
    plan.slices,
    deps.caches.splitSlices(s.namespace, s.name),
    (slice) => isSliceOfSplit(slice, s.namespace, s.name),
  );
  const shares = sharesMessage(plan.shares, plan.maxError);
  // The rivals withdraw their slices; this split says so too, so either one shows the conflict.
  const caveat = apexCaveat(apex);
  const message = [
    shares,
    ...(rivals ? [`TrafficSplit ${rivals} also has apex ${s.apex} and does not steer it`] : []),
    ...(caveat ? [caveat] : []),
  ].join('; ');
  if (applied.notOwned.length) {
    return {
      condition: bad('NotOwned', `EndpointSlice ${applied.notOwned.join(', ')} exists and is not Isthmus's`),
    };
  }
  // The slices are written all the same: their shares are real, for the backends that map.
  if (plan.problems.length)
    return {
      condition: bad(plan.problemReason, `${plan.problems.join('; ')}; ${message}`),
      shares: plan.shares,
    };
  return { condition: ok('Steered', message), shares: plan.shares, ...(rivals ? { rivals } : {}) };
}

/** The split steers nothing: its slices are withdrawn, and the condition says why. */
async function withdrawn(
  deps: ReconcileDeps,
  s: ParsedSplit,
  condition: ConditionInput,
): Promise<{ condition: ConditionInput }> {
  await withdrawSlices(deps, s.namespace, s.name);
  return { condition };
}

/** Deletes every apex slice written for the split, whatever apex it was for. */
async function withdrawSlices(deps: ReconcileDeps, namespace: string, split: string): Promise<void> {
  const ours = (slice: V1EndpointSlice) => isSliceOfSplit(slice, namespace, split);
  await applyApexSlices(deps.client, namespace, [], deps.caches.splitSlices(namespace, split), ours);
}
