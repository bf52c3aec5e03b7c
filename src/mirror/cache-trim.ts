/**
 * Informer transforms for the controller's caches (client-go's SetTransform): at 2 × 5,000
 * mirrors the caches are most of the heap, so each keeps only what the planner and the
 * applier's cache check read. The applier reads the live object before any replace or delete,
 * so nothing trimmed here is ever written back.
 */
import type { KubeObject, V1EndpointSlice, V1Service } from '../kube/types.js';

/** Stripped from every mirror anyway (mirror-objects.ts `STRIPPED_ANNOTATIONS`). */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Server-side apply bookkeeping: often the largest part of an object; nothing here reads it. */
export function dropManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata?.managedFields) obj.metadata.managedFields = undefined;
  return obj;
}

/**
 * Local Services (mirrors and everything else): labels and annotations stay whole, because the
 * planner compares them with the desired mirror; status is never read locally.
 */
export function trimLocalService(svc: V1Service): V1Service {
  dropManagedFields(svc);
  svc.status = undefined;
  return svc;
}

/**
 * Remote exported Services: labels and every copied annotation stay, and of the spec what the
 * planner reads (type, clusterIP for headless-ness, ports); the last-applied annotation (never
 * copied), status and the rest of the spec go. The remote gateway Service is a separate informer
 * that keeps `status.loadBalancer`.
 */
export function trimRemoteService(svc: V1Service): V1Service {
  dropManagedFields(svc);
  const annotations = svc.metadata?.annotations;
  if (annotations && LAST_APPLIED in annotations) delete annotations[LAST_APPLIED];
  const { type, clusterIP, ports } = svc.spec ?? {};
  return {
    metadata: svc.metadata,
    spec: {
      ...(type === undefined ? {} : { type }),
      ...(clusterIP === undefined ? {} : { clusterIP }),
      ...(ports === undefined ? {} : { ports }),
    },
  };
}

type Endpoint = NonNullable<V1EndpointSlice['endpoints']>[number];

/** Shared, frozen entries: three small objects per endpoint were most of a trimmed slice. */
const BARE_ENDPOINT: Record<'true' | 'false' | 'undefined', Endpoint> = {
  true: Object.freeze({
    addresses: Object.freeze([]) as unknown as string[],
    conditions: Object.freeze({ ready: true }),
  }),
  false: Object.freeze({
    addresses: Object.freeze([]) as unknown as string[],
    conditions: Object.freeze({ ready: false }),
  }),
  undefined: Object.freeze({ addresses: Object.freeze([]) as unknown as string[] }),
};

function bareEndpoint(ep: Endpoint): Endpoint {
  const ready = ep.conditions?.ready;
  if (!ep.hostname) return BARE_ENDPOINT[String(ready) as 'true' | 'false' | 'undefined'];
  return { addresses: [], ...(ready === undefined ? {} : { conditions: { ready } }), hostname: ep.hostname };
}

/**
 * Remote EndpointSlices (all of them, exported or not): only the count of ready endpoints and
 * their hostnames are read (`RemoteCluster.endpoints`); addresses, targetRef, zone and ports are
 * the remote cluster's and never reach a mirror. Handlers must treat the entries as read-only.
 */
export function trimRemoteSlice(slice: V1EndpointSlice): V1EndpointSlice {
  const { name, namespace, resourceVersion, labels } = slice.metadata ?? {};
  return {
    metadata: { name, namespace, resourceVersion, labels },
    addressType: slice.addressType,
    endpoints: (slice.endpoints ?? []).map(bareEndpoint),
  };
}
