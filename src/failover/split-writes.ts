/**
 * What the failover controller writes on a TrafficSplit: its weights, and the status it owns (or
 * clears). Apart from the reconcile (reconcile-split.ts) because of what a status write may find:
 * a TrafficSplit CRD without a status subresource (linkerd-smi's), after which the status each split
 * would have is kept in memory here, for the rest of the controller run, and read back in its place.
 */
import diagnostics from 'node:diagnostics_channel';
import { updateWithRetry } from '../kube/apply.js';
import type { KubeClient } from '../kube/client.js';
import { isNotFound } from '../kube/errors.js';
import { R } from '../kube/resources.js';
import type { TrafficSplit } from '../kube/types.js';
import type { FailoverMemory } from './decide-weights.js';
import { type ParsedBackend, parseWeight } from './parse-split.js';
import { clearedStatus, desiredStatus, type SplitOutcome, type SplitStatus } from './split-status.js';

/**
 * Published once per controller run when the TrafficSplit CRD turns out to have no status
 * subresource (linkerd-smi's, kept with `install --no-traffic-split-crd`): `{ key }`, the split
 * whose status write found it out. The controller works on without a status (statusless).
 */
export const statusUnsupportedChannel = diagnostics.channel('isthmus:failover:status-unsupported');

/** What the status writes need of the reconcile's dependencies. */
export interface StatusDeps {
  client: KubeClient;
  now: () => number;
  /** One map per controller run: it stands for the run (statusless). */
  memories: Map<string, FailoverMemory>;
}

/**
 * The version to write a split through: v1alpha2 declares weights integers, so a split holding a
 * v1alpha1 quantity ("500m") would fail its schema on write; v1alpha1 (int-or-string) takes both.
 */
export function writeResourceFor(split: TrafficSplit) {
  const quantities = (split.spec?.backends ?? []).some((b) => typeof b.weight !== 'number');
  return quantities ? R.trafficSplitsV1alpha1 : R.trafficSplitsV1alpha2;
}

/**
 * Writes only the weights, by backend name, on the current object (409 → re-read, retry). Returns
 * the weights it wrote over (read just before the write that landed), none when they were already
 * so (the informer cache was behind the API server).
 */
export async function patchWeights(
  client: KubeClient,
  split: TrafficSplit,
  weights: readonly ParsedBackend[],
): Promise<ParsedBackend[] | undefined> {
  const byService = new Map(weights.map((w) => [w.service, w.weight]));
  const { namespace, name = '' } = split.metadata ?? {};
  let found: ParsedBackend[] | undefined;
  const result = await updateWithRetry<TrafficSplit>(
    client,
    writeResourceFor(split),
    namespace,
    name,
    (current) => {
      const backends = current.spec.backends.map((b) => ({
        ...b,
        weight: byService.get(b.service) ?? b.weight,
      }));
      if (backends.every((b, i) => b.weight === current.spec.backends[i]?.weight)) return null;
      found = current.spec.backends.map((b) => ({ service: b.service, weight: parseWeight(b.weight) ?? 0 }));
      return { ...current, spec: { ...current.spec, backends } };
    },
  );
  return result === 'updated' ? found : undefined;
}

/** Removes the status fields Isthmus writes (clearedStatus), when there are any. */
export async function clearStatus(client: KubeClient, split: TrafficSplit): Promise<void> {
  if (!clearedStatus(split.status).changed) return;
  const { namespace, name = '' } = split.metadata ?? {};
  await updateWithRetry<TrafficSplit>(
    client,
    writeResourceFor(split),
    namespace,
    name,
    (current) => {
      const next = clearedStatus(current.status);
      return next.changed ? { ...current, status: next.status } : null;
    },
    { subresource: 'status' },
  );
}

/**
 * Per controller run (its `memories` map, one per runFailoverController, stands for it): set once
 * the TrafficSplit CRD is found to have no status subresource (linkerd-smi's, which has no
 * `status` in its schema either, so a status can be neither written nor kept). Then the status
 * each split would have is kept here instead, with the uid of the split it is about, and stands
 * for `split.status`: what changed (so warnings are recorded once per change, not per sync) and
 * where a forgotten memory resumes. A new run (restart, new leader) tries the status again.
 */
const statusless = new WeakMap<StatusDeps['memories'], Map<string, { uid: string; status: SplitStatus }>>();

/** The split is gone or no longer ours: nothing of it is kept (statusless). */
export function forgetStatus(deps: Pick<StatusDeps, 'memories'>, key: string): void {
  statusless.get(deps.memories)?.delete(key);
}

/** The split's status as Isthmus last wrote it: on the split, or kept in memory (statusless). */
export function currentStatus(
  deps: Pick<StatusDeps, 'memories'>,
  key: string,
  split: TrafficSplit,
): SplitStatus | undefined {
  const kept = statusless.get(deps.memories);
  if (!kept) return split.status as SplitStatus | undefined;
  const entry = kept.get(key);
  return entry && entry.uid === (split.metadata?.uid ?? '') ? entry.status : undefined;
}

/** Writes the status when a field we own differs; true when it did. */
export async function writeStatus(
  deps: StatusDeps,
  key: string,
  split: TrafficSplit,
  outcome: SplitOutcome,
): Promise<boolean> {
  const now = new Date(deps.now());
  const kept = statusless.get(deps.memories);
  if (kept) return keepStatus(kept, key, split, desiredStatus(currentStatus(deps, key, split), outcome, now));
  const { changed } = desiredStatus(split.status, outcome, now);
  if (!changed) return false;
  const ns = split.metadata?.namespace;
  const name = split.metadata?.name ?? '';
  try {
    const result = await updateWithRetry<TrafficSplit>(
      deps.client,
      writeResourceFor(split),
      ns,
      name,
      (current) => {
        const next = desiredStatus(current.status, outcome, now);
        return next.changed ? { ...current, status: { ...current.status, ...next.status } } : null;
      },
      { subresource: 'status' },
    );
    return result === 'updated';
  } catch (err) {
    // 404 on /status for the very split we write: its CRD serves no status subresource. A split
    // deleted meanwhile is a 404 too, and so is one created again under its name (another uid)
    // before a GET could tell: the retry finds out which, and one such race does not turn the
    // whole run status-less. (The controller's ClusterRole cannot read the CRD itself.)
    if (!isNotFound(err)) throw err;
    const found = await deps.client.get<TrafficSplit>(writeResourceFor(split), ns, name);
    if (!found || found.metadata?.uid !== split.metadata?.uid) throw err;
    // Said once per run, whichever split's write finds it out first (reconciles run concurrently).
    let kept = statusless.get(deps.memories);
    if (!kept) {
      kept = new Map();
      statusless.set(deps.memories, kept);
      statusUnsupportedChannel.publish({ key });
    }
    return keepStatus(kept, key, split, desiredStatus(undefined, outcome, now));
  }
}

function keepStatus(
  kept: Map<string, { uid: string; status: SplitStatus }>,
  key: string,
  split: TrafficSplit,
  next: { status: SplitStatus; changed: boolean },
): boolean {
  kept.set(key, { uid: split.metadata?.uid ?? '', status: next.status });
  return next.changed;
}
