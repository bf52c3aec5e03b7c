/**
 * Create-or-replace for rendered manifests, the way `kubectl apply` would for a first install,
 * without needing kubectl on the machine: the lab applies `isthmus install`'s own output.
 */
import { IsthmusError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { type ResourceRef, resourceOfKind } from '../../kube/resources.js';
import type { KubeObject } from '../../kube/types.js';

export function resourceOf(obj: KubeObject): ResourceRef {
  const res = obj.kind ? resourceOfKind(obj.kind) : undefined;
  if (!res) throw new IsthmusError('USAGE', `the lab cannot apply objects of kind ${obj.kind ?? '(none)'}`);
  return res;
}

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * A JSON value as Go's encoding/json writes it, which is how kubectl records the applied
 * configuration: object keys sorted (numeric-looking ones as strings too), `<`, `>`, `&`, U+2028 and
 * U+2029 escaped; the rest as JSON.stringify writes it. kubectl compares the annotation as a
 * string, so a byte of difference makes every object `configured`.
 */
export function goJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : goJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${goJson(k)}:${goJson(obj[k])}`).join(',')}}`;
  }
  return (JSON.stringify(value) ?? 'null').replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * The object as `kubectl apply` leaves it: the applied configuration recorded in its annotation
 * (kubectl's JSON, with a trailing newline, and `annotations: {}` when it has no other), so a later
 * `kubectl apply` (as `isthmus upgrade | kubectl apply -f -`) merges three ways, removes what the
 * new version drops, and reports an unchanged object `unchanged`, without a warning.
 */
export function withLastApplied(obj: KubeObject): KubeObject {
  const { [LAST_APPLIED_ANNOTATION]: _, ...annotations } = obj.metadata?.annotations ?? {};
  const applied = { ...obj, metadata: { ...obj.metadata, annotations } };
  return {
    ...obj,
    metadata: {
      ...obj.metadata,
      annotations: { ...annotations, [LAST_APPLIED_ANNOTATION]: `${goJson(applied)}\n` },
    },
  };
}

/**
 * Creates each object, or replaces it (keeping its resourceVersion) when it exists already. CRDs
 * too: the sandbox serves the project's CRDs from its start, and one left as it was would lack the
 * annotation (kubectl apply warns of that, and reports it `configured`). A replaced CRD keeps its
 * finalizers, as kubectl's patch would.
 */
export async function applyObjects(client: KubeClient, objects: readonly KubeObject[]): Promise<void> {
  for (const given of objects) {
    const obj = withLastApplied(given);
    const res = resourceOf(obj);
    const existing = await client.get(res, obj.metadata?.namespace, obj.metadata?.name ?? '');
    if (!existing) await client.create(res, obj);
    else {
      const finalizers = obj.kind === 'CustomResourceDefinition' ? existing.metadata?.finalizers : undefined;
      await client.replace(res, {
        ...obj,
        metadata: {
          ...obj.metadata,
          resourceVersion: existing.metadata?.resourceVersion,
          ...(finalizers ? { finalizers } : {}),
        },
      });
    }
  }
}
