/**
 * Create-or-update with optimistic concurrency (controller-runtime's CreateOrUpdate, with its
 * outcomes). Every write carries the resourceVersion it was computed from, so a concurrent writer
 * makes ours fail with 409 instead of being silently overwritten; we then re-read and retry.
 */
import { IsthmusError } from '../errors.js';
import type { KubeClient } from './client.js';
import { isAlreadyExists, isConflict, isNotFound } from './errors.js';
import type { ResourceRef } from './resources.js';
import type { KubeObject } from './types.js';

export type ApplyOutcome = 'created' | 'updated' | 'unchanged' | 'not-owned';

/** Kubernetes API conventions, "Concurrency Control and Consistency": on 409, re-read and retry. */
export const CONFLICT_RETRIES = 5;

export interface CreateOrUpdateOptions<T extends KubeObject> {
  /** An existing object we do not own is left alone and reported as 'not-owned'. */
  isOwned?: (existing: T) => boolean;
  /** The merge patch (RFC 7386) that brings `existing` to `desired` in the fields we own, or null. */
  diff: (existing: T, desired: T) => Record<string, unknown> | null;
}

function conflictExhausted(
  res: ResourceRef,
  ns: string | undefined,
  name: string,
  cause: unknown,
): IsthmusError {
  return new IsthmusError(
    'KUBE_CONFLICT',
    `${res.plural} ${ns ? `${ns}/` : ''}${name}: still conflicting after ${CONFLICT_RETRIES} attempts`,
    { cause },
  );
}

export async function createOrUpdate<T extends KubeObject>(
  client: KubeClient,
  res: ResourceRef,
  desired: T,
  opts: CreateOrUpdateOptions<T>,
): Promise<ApplyOutcome> {
  const ns = desired.metadata?.namespace;
  const name = desired.metadata?.name ?? '';
  let lastErr: unknown;
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
    const existing = await client.get<T>(res, ns, name);
    if (existing === undefined) {
      try {
        await client.create(res, desired);
        return 'created';
      } catch (err) {
        // Someone created it between our read and our create: re-read and compare.
        if (!isAlreadyExists(err)) throw err;
        lastErr = err;
        continue;
      }
    }
    if (opts.isOwned && !opts.isOwned(existing)) return 'not-owned';
    const patch = opts.diff(existing, desired);
    if (patch === null) return 'unchanged';
    const metadata = {
      ...(patch.metadata as object | undefined),
      resourceVersion: existing.metadata?.resourceVersion,
    };
    try {
      await client.patch(res, ns, name, { ...patch, metadata }, 'merge');
      return 'updated';
    } catch (err) {
      // 409: the object changed since we read it. 404: it was deleted meanwhile; recreate.
      if (!isConflict(err) && !isNotFound(err)) throw err;
      lastErr = err;
    }
  }
  throw conflictExhausted(res, ns, name, lastErr);
}

export interface UpdateOptions {
  /** Write the status subresource instead of the object. */
  subresource?: 'status';
}

/**
 * Read-modify-write with retry on 409: `mutate` gets a fresh copy of the current object each
 * attempt and returns the object to write, or null for "no change". A missing object is
 * KUBE_NOT_FOUND.
 */
export async function updateWithRetry<T extends KubeObject>(
  client: KubeClient,
  res: ResourceRef,
  namespace: string | undefined,
  name: string,
  mutate: (current: T) => T | null,
  opts: UpdateOptions = {},
): Promise<'updated' | 'unchanged'> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
    const current = await client.get<T>(res, namespace, name);
    if (current === undefined) {
      throw new IsthmusError(
        'KUBE_NOT_FOUND',
        `${res.plural} ${namespace ? `${namespace}/` : ''}${name} not found`,
      );
    }
    const next = mutate(structuredClone(current));
    if (next === null) return 'unchanged';
    // The read version makes the PUT a compare-and-swap even if mutate rebuilt the metadata.
    const body = {
      ...next,
      metadata: { ...next.metadata, resourceVersion: current.metadata?.resourceVersion },
    };
    try {
      if (opts.subresource === 'status') await client.replaceStatus(res, body);
      else await client.replace(res, body);
      return 'updated';
    } catch (err) {
      if (!isConflict(err)) throw err;
      lastErr = err;
    }
  }
  throw conflictExhausted(res, namespace, name, lastErr);
}
