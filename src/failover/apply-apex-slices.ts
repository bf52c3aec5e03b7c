/**
 * The thin applier for planApexSlices: brings the apex's Isthmus-managed EndpointSlices of one
 * split (or one federation) to the desired set. Only slices labelled `managed-by=failover.isthmus.dev` and
 * `failover.isthmus.dev/split=<split>` are ever updated or deleted; a slice of the same name that
 * is not ours is reported, never touched.
 */
import { createOrUpdate } from '../kube/apply.js';
import type { KubeClient } from '../kube/client.js';
import { isRetryable } from '../kube/errors.js';
import { isSubsetOf } from '../kube/owned-fields.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice } from '../kube/types.js';
import { isFailoverSlice } from './endpoint-readiness.js';
import { SPLIT_LABEL, splitLabelValue } from './plan-apex-slices.js';

export interface ApplySlicesResult {
  created: number;
  updated: number;
  deleted: number;
  /** Names of slices we wanted to write but that belong to someone else. */
  notOwned: string[];
}

export function isSliceOfSplit(slice: V1EndpointSlice, namespace: string, split: string): boolean {
  return (
    slice.metadata?.namespace === namespace &&
    isFailoverSlice(slice) &&
    slice.metadata?.labels?.[SPLIT_LABEL] === splitLabelValue(split)
  );
}

/** The fields Isthmus owns on its slices; anything else is the API server's (STYLE.md §5). */
function owned(slice: V1EndpointSlice) {
  return {
    metadata: { labels: slice.metadata?.labels, ownerReferences: slice.metadata?.ownerReferences },
    ports: slice.ports,
    endpoints: slice.endpoints,
  };
}

/**
 * `existing`: the owner's slices as the informer cache has them. A slice the cache shows as
 * already right is not written; createOrUpdate re-reads before writing, so a stale cache costs a
 * GET, never a lost update. `isOwned` tells the owner's slices from a stranger's of the same name
 * (another split's on the same apex is reported, not fought over).
 *
 * Every write is attempted even when one fails (a slice the API refuses must not keep the other
 * backends' slices stale, nor leave withdrawn ones listed); then the failure is thrown, a
 * retryable one first, so that a terminal refusal of one slice does not stop the queue retrying
 * a transient failure of another.
 */
export async function applyApexSlices(
  client: KubeClient,
  namespace: string,
  desired: readonly V1EndpointSlice[],
  existing: readonly V1EndpointSlice[],
  isOwned: (slice: V1EndpointSlice) => boolean,
): Promise<ApplySlicesResult> {
  const result: ApplySlicesResult = { created: 0, updated: 0, deleted: 0, notOwned: [] };
  const failures: unknown[] = [];
  const attempt = (write: () => Promise<void>) => write().catch((err: unknown) => void failures.push(err));
  const wanted = new Set(desired.map((s) => s.metadata?.name));
  for (const slice of desired)
    await attempt(() => applySlice(client, namespace, slice, existing, isOwned, result));
  for (const slice of existing) {
    const name = slice.metadata?.name ?? '';
    if (wanted.has(name)) continue;
    await attempt(async () => {
      if (await client.delete(R.endpointSlices, namespace, name)) result.deleted++;
    });
  }
  if (failures.length > 0) throw failures.find(isRetryable) ?? failures[0];
  return result;
}

async function applySlice(
  client: KubeClient,
  namespace: string,
  slice: V1EndpointSlice,
  existing: readonly V1EndpointSlice[],
  isOwned: (slice: V1EndpointSlice) => boolean,
  result: ApplySlicesResult,
): Promise<void> {
  const cached = existing.find((e) => e.metadata?.name === slice.metadata?.name);
  if (cached && cached.addressType === slice.addressType && isSubsetOf(owned(slice), cached)) return;
  if (cached && cached.addressType !== slice.addressType && isOwned(cached)) {
    // addressType is immutable (API validation): a backend whose pods changed family gets its
    // slice deleted and created again. The delete is conditional, so a newer write is not lost.
    const rv = cached.metadata?.resourceVersion;
    await client.delete(
      R.endpointSlices,
      namespace,
      slice.metadata?.name ?? '',
      rv ? { resourceVersion: rv } : {},
    );
    result.deleted++;
  }
  const outcome = await createOrUpdate<V1EndpointSlice>(client, R.endpointSlices, slice, {
    isOwned,
    diff: (current, want) => (isSubsetOf(owned(want), current) ? null : owned(want)),
  });
  if (outcome === 'created') result.created++;
  else if (outcome === 'updated') result.updated++;
  else if (outcome === 'not-owned') result.notOwned.push(slice.metadata?.name ?? '');
}
