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
 * The object as `kubectl apply` leaves it: the applied configuration recorded in its annotation
 * (kubectl's JSON, with a trailing newline), so a later `kubectl apply` (as `isthmus upgrade |
 * kubectl apply -f -`) merges three ways and removes what the new version drops, without a warning.
 */
export function withLastApplied(obj: KubeObject): KubeObject {
  const { [LAST_APPLIED_ANNOTATION]: _, ...annotations } = obj.metadata?.annotations ?? {};
  const { annotations: __, ...metadata } = obj.metadata ?? {};
  const applied = {
    ...obj,
    metadata: Object.keys(annotations).length > 0 ? { ...metadata, annotations } : metadata,
  };
  return {
    ...obj,
    metadata: {
      ...obj.metadata,
      annotations: { ...annotations, [LAST_APPLIED_ANNOTATION]: `${JSON.stringify(applied)}\n` },
    },
  };
}

/** Creates each object, or replaces it (keeping its resourceVersion) when it exists already. */
export async function applyObjects(client: KubeClient, objects: readonly KubeObject[]): Promise<void> {
  for (const given of objects) {
    const obj = withLastApplied(given);
    const res = resourceOf(obj);
    const existing = await client.get(res, obj.metadata?.namespace, obj.metadata?.name ?? '');
    if (!existing) await client.create(res, obj);
    else if (obj.kind !== 'CustomResourceDefinition') {
      await client.replace(res, {
        ...obj,
        metadata: { ...obj.metadata, resourceVersion: existing.metadata?.resourceVersion },
      });
    }
  }
}
