/**
 * The `scale` subresource of Deployments (autoscaling/v1 Scale), which `kubectl scale` reads and
 * patches: a view of `spec.replicas`, `status.replicas` and the selector. Writes go through the
 * Deployment's own update path, so validation, resourceVersion preconditions and watches behave as
 * for any other write (registry/apps/deployment/storage ScaleREST).
 */
import type { AdmissionContext } from './admission-policy.js';
import { ApiError, badRequest, notFound, staleConflict } from './api-status.js';
import { asServed } from './object-meta.js';
import { applyJsonPatch, applyMergePatch } from './patch.js';
import { PATCH_TYPES, parseBody, patchFailure } from './patch-ops.js';
import { groupResource, type ResourceType, resourceKey } from './resource-types.js';
import type { RestOps } from './rest-ops.js';
import type { KObj } from './store.js';

export function hasScale(rt: ResourceType): boolean {
  return rt.group === 'apps' && rt.plural === 'deployments';
}

const SCALE_KIND = { group: 'autoscaling', version: 'v1', kind: 'Scale' };

type Selector = { matchLabels?: Record<string, string> };

export function toScale(d: KObj): KObj {
  const spec = (d as { spec?: { replicas?: number; selector?: Selector } }).spec ?? {};
  const status = (d as { status?: { replicas?: number } }).status ?? {};
  const selector = Object.entries(spec.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: {
      name: d.metadata.name,
      namespace: d.metadata.namespace,
      uid: d.metadata.uid,
      resourceVersion: d.metadata.resourceVersion,
      creationTimestamp: d.metadata.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 1 },
    status: { replicas: status.replicas ?? 0, selector },
  } as KObj;
}

function replicasOf(scale: unknown): number {
  const n = (scale as { spec?: { replicas?: unknown } } | null)?.spec?.replicas;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new ApiError(
      422,
      'Invalid',
      `Scale.autoscaling "" is invalid: spec.replicas: Invalid value: ${JSON.stringify(n)}: must be greater than or equal to 0`,
      {
        causes: [
          {
            reason: 'FieldValueInvalid',
            message: 'must be greater than or equal to 0',
            field: 'spec.replicas',
          },
        ],
      },
    );
  }
  return n;
}

/** GET, PUT or PATCH on `deployments/<name>/scale`. */
export function handleScale(
  ops: RestOps,
  rt: ResourceType,
  version: string,
  namespace: string | undefined,
  name: string,
  verb: 'get' | 'update' | 'patch',
  contentType: string,
  raw: string,
  admission?: AdmissionContext,
): KObj {
  const existing = ops.store.get(resourceKey(rt.group, rt.plural), namespace, name);
  if (!existing) throw notFound(groupResource(rt), name);
  const current = toScale(asServed(rt, existing, version));
  if (verb === 'get') return current;
  let next: unknown;
  if (verb === 'update') {
    try {
      next = JSON.parse(raw);
    } catch (err) {
      throw badRequest(`error decoding body: ${(err as Error).message}`);
    }
  } else {
    const type = contentType.split(';')[0]!.trim().toLowerCase();
    const patch = parseBody(type, raw);
    try {
      // A Scale has no lists, so a strategic merge patch is a merge patch here.
      next = type === PATCH_TYPES.json ? applyJsonPatch(current, patch) : applyMergePatch(current, patch);
    } catch (err) {
      patchFailure(err);
    }
  }
  const rv = (next as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
  if (rv && rv !== existing.metadata.resourceVersion) throw staleConflict(groupResource(rt), name);
  const deployment = asServed(rt, existing, version) as KObj & { spec?: Record<string, unknown> };
  const replicas = replicasOf(next);
  deployment.spec = { ...deployment.spec, replicas };
  // Admission sees the Scale (autoscaling/v1) on deployments/scale, not the Deployment: admitted
  // here, once, rather than again by the update below.
  const scaled = { ...current, spec: { replicas } } as KObj;
  ops.admit(rt, version, 'UPDATE', scaled, current, { admission, subresource: 'scale', kind: SCALE_KIND });
  const opts = admission ? { admission: { ...admission, admitted: true } } : {};
  return toScale(ops.update(rt, version, namespace, name, deployment, opts).obj);
}
