/**
 * Builders of the desired local objects for one remote Service, and the "is it ours" tests.
 * Pure. What is built here is exactly the set of fields the controller owns and compares
 * (house style 5): labels, annotations, ports, clusterIP None for headless; for slices the
 * address type, endpoints and ports.
 */
import {
  CLUSTER_NAME_LABEL,
  EGRESS_PORTS_ANNOTATION,
  FEDERATION_LABEL,
  HEADLESS_MIRROR_LABEL,
  HEADLESS_SERVICE_LABEL,
  ISTHMUS_MIRROR_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  MAX_SLICE_ENDPOINTS,
  MIRRORED_SERVICE_LABEL,
  REMOTE_DISCOVERY_LABEL,
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_RESOURCE_VERSION_ANNOTATION,
  REMOTE_SERVICE_LABEL,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
  SERVICE_NAME_LABEL,
} from '../kube/keys.js';
import { isIsthmusMirror, isLinkerdMirror } from '../kube/linkerd-mirror.js';
import { sliceChunks } from '../kube/slice-chunks.js';
import type { V1EndpointSlice, V1Namespace, V1Service, V1ServicePort } from '../kube/types.js';
import type { DirectEndpoints, DirectGroup } from './direct-endpoints.js';
import type { LinkConfig } from './link-config.js';

/** Linkerd's label namespace: never copied, so a mirror of a mirror cannot claim to be exported. */
const LINKERD_MIRROR_PREFIX = 'mirror.linkerd.io/';
/** Isthmus's own key domain: `isthmus.dev/…` and its subdomains' (`failover.isthmus.dev/…`). */
const ISTHMUS_DOMAIN = 'isthmus.dev';

/**
 * A label or annotation key of Isthmus's own. Never copied from a remote Service: there they
 * describe the remote object (a federated Service's `isthmus.dev/federated-service` and members,
 * an export's `isthmus.dev/allowed-clusters`, enforced there), and on the mirror they would make
 * local Isthmus take it for one of its own objects. The ones a mirror carries, the planner sets.
 */
function isIsthmusKey(key: string): boolean {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? '' : key.slice(0, slash);
  return prefix === ISTHMUS_DOMAIN || prefix.endsWith(`.${ISTHMUS_DOMAIN}`);
}

/**
 * Topology hints describe the remote cluster's zones and would mislead local kube-proxy
 * (KEP-2433); last-applied-configuration describes the remote object, not the mirror.
 */
const STRIPPED_ANNOTATIONS = new Set([
  'service.kubernetes.io/topology-aware-hints',
  'service.kubernetes.io/topology-mode',
  'kubectl.kubernetes.io/last-applied-configuration',
]);
/** A Service name is a DNS-1035 label (Kubernetes API conventions): at most 63 characters. */
export const MAX_SERVICE_NAME = 63;

export function mirrorName(name: string, cluster: string): string {
  return `${name}-${cluster}`;
}

export function isHeadless(service: V1Service): boolean {
  return service.spec?.clusterIP === 'None';
}

/** `prefix/*` matches every key under prefix/; anything else must match exactly. */
export function matchesPattern(key: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith('/*') ? key.startsWith(p.slice(0, -1)) : p === key));
}

/**
 * The ports a mirror through the gateways carries: TCP only, since a tunnel is one TCP stream (and
 * the egress listeners are TCP). A remote-discovery mirror, whose callers reach the pods directly,
 * keeps every port.
 */
export function tunnelledPorts(service: V1Service): V1ServicePort[] {
  return (service.spec?.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP');
}

/** The key a service port is known by in `isthmus.dev/egress-ports`: its name, or its number. */
export function portKey(port: V1ServicePort): string {
  return port.name ? port.name : String(port.port);
}

export function formatEgressPorts(ports: ReadonlyMap<string, number>): string {
  return [...ports.entries()].map(([k, v]) => `${k}=${v}`).join(',');
}

/** Inverse of formatEgressPorts. */
export { parseEgressPorts } from '../kube/linkerd-mirror.js';

/**
 * Ours = Isthmus's mirror (`isIsthmusMirror`: marked, or written before the mark) of this Link's
 * cluster. `slices`: the mirror's slices, where the caller has them, which alone tell a
 * remote-discovery mirror written before the mark from Linkerd's. Anything else of that name is
 * never touched.
 */
export function isOurService(
  service: V1Service | undefined,
  cluster: string,
  slices: readonly (V1EndpointSlice | undefined)[] = [],
): boolean {
  return service?.metadata?.labels?.[CLUSTER_NAME_LABEL] === cluster && isIsthmusMirror(service, slices);
}

/**
 * The uid of a Service that is ours only by its slices (a remote-discovery mirror written before
 * the mark): the applier re-reads the Service before writing it, without the slices (a delete
 * removes them first), and takes that very object, by uid, as ours. Its first write marks it.
 */
export function adoption(service: V1Service | undefined, cluster: string): { adopt?: string } {
  const uid = service?.metadata?.uid;
  return service && uid && !isOurService(service, cluster) ? { adopt: uid } : {};
}

/**
 * Why a Service holding a mirror's name is not ours: Linkerd's, unmarked, or any other object.
 * Each says how the name comes free: here (delete or rename it), or at the source (`remote`, the
 * remote Service `namespace/name` the mirror is for, no longer exported).
 */
export function notOursMessage(service: V1Service, cluster: string, remote: string): string {
  const { namespace, name, labels = {} } = service.metadata ?? {};
  const key = `Service ${namespace}/${name}`;
  const labelled = labels[MIRRORED_SERVICE_LABEL] === 'true' && labels[CLUSTER_NAME_LABEL] === cluster;
  if (labelled && isLinkerdMirror(service))
    return `${key} is Linkerd's mirror of ${cluster}: unlink ${cluster} from Linkerd multicluster first`;
  if (labelled)
    return `${key} is labelled as a mirror of ${cluster}, but neither Isthmus (no ${ISTHMUS_MIRROR_LABEL} label) nor Linkerd made it, so it is left alone: delete it to have ${cluster}'s Service mirrored here`;
  return `${key} exists and is not a mirror of ${cluster}: delete or rename the local ${key}, or stop exporting ${cluster}'s ${remote}`;
}

export function isOurSlice(slice: V1EndpointSlice | undefined, cluster: string): boolean {
  const labels = slice?.metadata?.labels ?? {};
  return labels[MANAGED_BY_LABEL] === MANAGED_BY_MIRROR && labels[CLUSTER_NAME_LABEL] === cluster;
}

/**
 * A namespace created for a mirror (Link `enableNamespaceCreation`), labelled as Linkerd's service
 * mirror labels it, so that `kubectl get ns -l mirror.linkerd.io/cluster-name=west` finds it. It is
 * never deleted by the controller: by then it may hold things that are not ours.
 */
export function buildMirrorNamespace(name: string, cluster: string): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { [MIRRORED_SERVICE_LABEL]: 'true', [CLUSTER_NAME_LABEL]: cluster } },
  };
}

export function mirrorLabels(remote: V1Service, link: LinkConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(remote.metadata?.labels ?? {})) {
    // The federation label is ours (the planner sets it on members only): a remote copy never counts.
    if (k.startsWith(LINKERD_MIRROR_PREFIX) || isIsthmusKey(k) || matchesPattern(k, link.excludedLabels))
      continue;
    out[k] = v;
  }
  out[MIRRORED_SERVICE_LABEL] = 'true';
  out[CLUSTER_NAME_LABEL] = link.clusterName;
  out[ISTHMUS_MIRROR_LABEL] = link.clusterName;
  return out;
}

export function copiedAnnotations(remote: V1Service, link: LinkConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(remote.metadata?.annotations ?? {})) {
    // Linkerd's and Isthmus's annotations on the remote (it may be a mirror itself) describe that
    // object, not ours.
    if (
      STRIPPED_ANNOTATIONS.has(k) ||
      k.startsWith(LINKERD_MIRROR_PREFIX) ||
      isIsthmusKey(k) ||
      matchesPattern(k, link.excludedAnnotations)
    )
      continue;
    out[k] = v;
  }
  return out;
}

export interface MirrorServiceInput {
  remote: V1Service;
  link: LinkConfig;
  name: string;
  fqName: string;
  /** `<address>:<port>` of the remote gateway; absent for a remote-discovery mirror, which has none. */
  remoteGateway?: string;
  egressPorts: ReadonlyMap<string, number>;
  headless: boolean;
  extraLabels?: Record<string, string>;
  /** The remote ports the mirror carries (default: all; `tunnelledPorts` through the gateways). */
  ports?: readonly V1ServicePort[];
  /** A single family other than the cluster's default (remote discovery of pods of that family). */
  ipFamily?: 'IPv4' | 'IPv6';
}

export function buildMirrorService(input: MirrorServiceInput): V1Service {
  const { remote, link } = input;
  const ports = (input.ports ?? remote.spec?.ports ?? []).map((p) => mirrorPort(p, input.egressPorts));
  const spec: V1Service['spec'] = { type: 'ClusterIP', ports };
  if (input.headless) spec.clusterIP = 'None';
  if (input.ipFamily) {
    spec.ipFamilies = [input.ipFamily];
    spec.ipFamilyPolicy = 'SingleStack';
  }
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: input.name,
      namespace: remote.metadata?.namespace ?? '',
      labels: { ...mirrorLabels(remote, link), ...input.extraLabels },
      annotations: {
        ...copiedAnnotations(remote, link),
        [REMOTE_SVC_FQ_NAME_ANNOTATION]: input.fqName,
        [REMOTE_RESOURCE_VERSION_ANNOTATION]: remote.metadata?.resourceVersion ?? '',
        ...(input.remoteGateway === undefined
          ? {}
          : {
              [REMOTE_GATEWAY_ANNOTATION]: input.remoteGateway,
              [EGRESS_PORTS_ANNOTATION]: formatEgressPorts(input.egressPorts),
            }),
      },
    },
    spec,
  };
}

/** Same name/port/protocol as the remote; targetPort records the egress port the slice points at. */
function mirrorPort(p: V1ServicePort, egress: ReadonlyMap<string, number>): V1ServicePort {
  const out: V1ServicePort = { port: p.port, protocol: p.protocol ?? 'TCP' };
  if (p.name) out.name = p.name;
  if (p.appProtocol) out.appProtocol = p.appProtocol;
  const target = egress.get(portKey(p));
  if (target !== undefined) out.targetPort = target as unknown as V1ServicePort['targetPort'];
  return out;
}

export interface MirrorSliceInput {
  service: V1Service;
  cluster: string;
  /** Local gateway pod addresses; empty → no endpoints. */
  addresses: string[];
  ready: boolean;
  egressPorts: ReadonlyMap<string, number>;
  /**
   * The egress ports `ports` may list (absent: all). kube-proxy sends callers to the ports a slice
   * lists, so a port is listed only once the local gateways listen on it; the slice vouches for
   * all of them in its `isthmus.dev/egress-ports` meanwhile, which is what makes them listen.
   */
  forwarded?: ReadonlySet<number>;
  /** Hostnames per address, for the headless parent's slice. */
  hostnames?: Map<string, string>;
  ownerUid?: string;
}

export function buildMirrorSlice(input: MirrorSliceInput): V1EndpointSlice {
  const ipv6 = input.addresses.some((a) => a.includes(':'));
  const meta = mirrorSliceMeta(input.service, input.cluster, input.ownerUid) ?? {};
  // The remote name the egress ports lead to, where a tenant who may edit the mirror Service cannot
  // change it: the gateway routes a port only to the name its slice records (watch-mirrors.ts).
  const fqName = input.service.metadata?.annotations?.[REMOTE_SVC_FQ_NAME_ANNOTATION];
  if (input.egressPorts.size > 0 && fqName)
    meta.annotations = {
      [REMOTE_SVC_FQ_NAME_ANNOTATION]: fqName,
      [EGRESS_PORTS_ANNOTATION]: formatEgressPorts(input.egressPorts),
    };
  const { forwarded } = input;
  const ports = (input.service.spec?.ports ?? [])
    .map((p) => ({
      name: p.name ?? '',
      port: input.egressPorts.get(portKey(p)) ?? p.port,
      protocol: p.protocol ?? 'TCP',
    }))
    .filter((p) => forwarded === undefined || forwarded.has(p.port));
  // A slice that lists no port yet sends no caller anywhere: its endpoints are not ready either.
  const ready = input.ready && ports.length > 0;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: meta,
    addressType: ipv6 ? 'IPv6' : 'IPv4',
    // `ready` is always explicit: the API reads an absent condition as ready (discovery.k8s.io/v1).
    endpoints: input.addresses.map((address) => {
      const hostname = input.hostnames?.get(address);
      return { addresses: [address], conditions: { ready }, ...(hostname ? { hostname } : {}) };
    }),
    ports,
  };
}

/**
 * A remote-discovery mirror's slices: one per port set of the remote pods (direct-endpoints.ts),
 * in its order, each named after the mirror until splitSlices numbers them. Without any, the one
 * empty slice a mirror always has.
 */
export function buildDirectSlices(
  service: V1Service,
  cluster: string,
  direct: DirectEndpoints,
  ownerUid?: string,
): V1EndpointSlice[] {
  const groups: DirectGroup[] = direct.groups.length > 0 ? direct.groups : [{ ports: [], endpoints: [] }];
  return groups.map((g) =>
    buildDirectSlice(service, cluster, { addressType: direct.addressType, ...g }, ownerUid),
  );
}

/** One slice of remote pods that share their ports. */
export function buildDirectSlice(
  service: V1Service,
  cluster: string,
  group: DirectGroup & Pick<DirectEndpoints, 'addressType'>,
  ownerUid?: string,
): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: mirrorSliceMeta(service, cluster, ownerUid),
    addressType: group.addressType,
    endpoints: group.endpoints,
    ports: group.ports,
  };
}

/**
 * Named after its mirror, labelled as ours (and headless for a headless mirror, as kube labels the
 * slices of a headless Service), owned by the mirror Service once its uid is known.
 */
function mirrorSliceMeta(
  service: V1Service,
  cluster: string,
  ownerUid?: string,
): V1EndpointSlice['metadata'] {
  const name = service.metadata?.name ?? '';
  return {
    name,
    namespace: service.metadata?.namespace ?? '',
    labels: {
      [MANAGED_BY_LABEL]: MANAGED_BY_MIRROR,
      [SERVICE_NAME_LABEL]: name,
      [CLUSTER_NAME_LABEL]: cluster,
      ...(isHeadless(service) ? { [HEADLESS_SERVICE_LABEL]: '' } : {}),
    },
    ...(ownerUid
      ? {
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'Service',
              name,
              uid: ownerUid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        }
      : {}),
  };
}

/**
 * The name of a mirror's `index`-th EndpointSlice: the mirror's own name for the first (the only
 * one of a mirror whose endpoints fit one slice, so such mirrors are written as they always were),
 * `<mirror>.<index>` for the others. A Service name has no dot (DNS-1035 label), so no other
 * mirror's slice can have one of these names.
 */
export function mirrorSliceName(mirror: string, index: number): string {
  return index === 0 ? mirror : `${mirror}.${index}`;
}

/**
 * A mirror's slices as the API server takes them: at most MAX_SLICE_ENDPOINTS endpoints per
 * EndpointSlice (it refuses more), so each of `slices` (all named after the mirror, one per port
 * set) is cut into runs of that many, in order, each with the same labels, owner, address type
 * and ports, as the EndpointSlice controller splits a Service's. The runs are named `<mirror>`,
 * `<mirror>.1`, … in that order, so the same input gives the same slices. kube-proxy and CoreDNS
 * read every slice labelled with the Service's name.
 */
export function splitSlices(slices: readonly V1EndpointSlice[]): V1EndpointSlice[] {
  const mirror = slices[0]?.metadata?.name ?? '';
  const runs = slices.flatMap((slice) => {
    const endpoints = slice.endpoints ?? [];
    if (endpoints.length <= MAX_SLICE_ENDPOINTS) return [slice];
    return sliceChunks(endpoints).map((run) => ({ ...slice, endpoints: run }));
  });
  return runs.map((run, i) =>
    i === 0 ? run : { ...run, metadata: { ...run.metadata, name: mirrorSliceName(mirror, i) } },
  );
}

/** The readiness an existing slice currently advertises, or undefined when it has no endpoint. */
export function sliceReadiness(slice: V1EndpointSlice | undefined): boolean | undefined {
  const first = slice?.endpoints?.[0];
  if (!first) return undefined;
  return first.conditions?.ready !== false;
}

export function headlessParentLabel(parent: string): Record<string, string> {
  return { [HEADLESS_MIRROR_LABEL]: parent };
}

/** Linkerd's labels of a remote-discovery mirror: the cluster and the remote Service it resolves to. */
export function remoteDiscoveryLabels(cluster: string, service: string): Record<string, string> {
  return { [REMOTE_DISCOVERY_LABEL]: cluster, [REMOTE_SERVICE_LABEL]: service };
}

/** Marks the mirror of a remote federated member with its federation: the remote Service's name. */
export function federationLabel(federation: string): Record<string, string> {
  return { [FEDERATION_LABEL]: federation };
}
