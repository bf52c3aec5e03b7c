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
type Conditions = NonNullable<Endpoint['conditions']>;
type SlicePort = NonNullable<V1EndpointSlice['ports']>[number];

/**
 * Interned, frozen conditions and port lists: a remote cluster's slices share a handful of each,
 * so a trimmed endpoint costs one small object plus its address array (already parsed).
 */
const CONDITIONS = new Map<string, Conditions>();
const PORT_LISTS = new Map<string, SlicePort[]>();
/** Bounds the port-list interning (distinct lists are few; a pathological cluster stops sharing). */
const MAX_INTERNED_PORT_LISTS = 1024;

function internConditions(c: Conditions | undefined): Conditions | undefined {
  if (!c) return undefined;
  const { ready, serving, terminating } = c;
  const key = `${ready}/${serving}/${terminating}`;
  let shared = CONDITIONS.get(key);
  if (!shared) {
    shared = Object.freeze({
      ...(ready === undefined ? {} : { ready }),
      ...(serving === undefined ? {} : { serving }),
      ...(terminating === undefined ? {} : { terminating }),
    });
    CONDITIONS.set(key, shared);
  }
  return shared;
}

function internPorts(ports: SlicePort[] | undefined): SlicePort[] | undefined {
  if (!ports) return undefined;
  const bare = ports.map(({ name, port, protocol, appProtocol }) => ({
    ...(name === undefined ? {} : { name }),
    ...(port === undefined ? {} : { port }),
    ...(protocol === undefined ? {} : { protocol }),
    ...(appProtocol === undefined ? {} : { appProtocol }),
  }));
  const key = JSON.stringify(bare);
  const shared = PORT_LISTS.get(key);
  if (shared) return shared;
  const frozen = Object.freeze(bare.map((p) => Object.freeze(p))) as SlicePort[];
  if (PORT_LISTS.size < MAX_INTERNED_PORT_LISTS) PORT_LISTS.set(key, frozen);
  return frozen;
}

function trimEndpoint(ep: Endpoint): Endpoint {
  const conditions = internConditions(ep.conditions);
  return {
    addresses: ep.addresses,
    ...(conditions ? { conditions } : {}),
    ...(ep.hostname ? { hostname: ep.hostname } : {}),
  };
}

/**
 * Remote EndpointSlices (all of them, exported or not). Read: the ready count and hostnames
 * (`RemoteCluster.endpoints`), and for remote-discovery mirrors the addresses, conditions and
 * ports, which become the mirror's own endpoints. targetRef, nodeName, zone and hints are the
 * remote cluster's and never reach a mirror. Handlers must treat the entries as read-only.
 */
export function trimRemoteSlice(slice: V1EndpointSlice): V1EndpointSlice {
  const { name, namespace, resourceVersion, labels } = slice.metadata ?? {};
  const ports = internPorts(slice.ports);
  return {
    metadata: { name, namespace, resourceVersion, labels },
    addressType: slice.addressType,
    endpoints: (slice.endpoints ?? []).map(trimEndpoint),
    ...(ports ? { ports } : {}),
  };
}
