/**
 * What a move from Linkerd multicluster can leave behind that Isthmus's traffic meets (README,
 * "Moving from Linkerd multicluster"), read for `isthmus check`: Linkerd's mirrors of a cluster
 * Isthmus links, which hold the name Isthmus would mirror under; Linkerd's Links, which say whether
 * Linkerd still fills them; EndpointSlices of Isthmus's mirrors that another writer made (kube's
 * EndpointSlice mirroring copies a leftover Linkerd Endpoints of the same name); and the
 * TrafficSplits and Deployments of linkerd-failover, which reads readiness from core/v1 Endpoints,
 * of which Isthmus's mirrors have none. The verdicts are checks/linkerd-leftovers.ts's.
 */
import { hostPort } from '../../host-port.js';
import type { KubeClient } from '../../kube/client.js';
import { isNotFound } from '../../kube/errors.js';
import {
  CLUSTER_NAME_LABEL,
  FAILOVER_CONTROLLED_BY_LABEL,
  MANAGED_BY_LABEL,
  MIRRORED_SERVICE_LABEL,
  NOT_ISTHMUS_SLICES,
  REMOTE_DISCOVERY_LABEL,
  SERVICE_NAME_LABEL,
} from '../../kube/keys.js';
import { claimsRoutes, isLinkerdMirror } from '../../kube/linkerd-mirror.js';
import { R, type ResourceRef } from '../../kube/resources.js';
import type { KubeObject, TrafficSplit, V1Deployment, V1EndpointSlice, V1Service } from '../../kube/types.js';
import type { MirrorFacts } from './types.js';

/** A Service labelled as a mirror of a cluster that Isthmus did not make. */
export interface ForeignMirror {
  namespace: string;
  name: string;
  cluster: string;
  /** Linkerd's service mirror made it; else it was labelled by hand (the Link reports it as neither's). */
  linkerd: boolean;
  /** Ready addresses in its EndpointSlices, whoever wrote them: what kube-proxy and meshed callers reach. */
  readyEndpoints: number;
  /**
   * `clusterIP: None`: Linkerd lists one address per ready remote pod there (each a mirror of its
   * own), whatever the gateway does, so none means the remote Service has no ready pod.
   */
  headless?: true;
}

/** A `links.multicluster.linkerd.io`: while one names a cluster, Linkerd's service mirror fills its mirrors. */
export interface LinkerdLink {
  namespace: string;
  name: string;
  cluster: string;
}

/** An EndpointSlice of an Isthmus mirror written by another manager than Isthmus's controllers. */
export interface ForeignSlice {
  namespace: string;
  name: string;
  /** The mirror it belongs to (`kubernetes.io/service-name`). */
  service: string;
  /** Its `endpointslice.kubernetes.io/managed-by`, when it has one. */
  managedBy?: string;
  /** What kube-proxy sends the mirror's callers to besides this cluster's gateway. */
  addresses: string[];
}

/** A linkerd-failover Deployment, and the TrafficSplits it acts on (its `--selector`). */
export interface LinkerdFailover {
  namespace: string;
  name: string;
  available: number;
  /** As it reads it: the flag, else its default (any split with the controlled-by label). */
  selector: string;
}

/** The slices kube's EndpointSlice mirroring controller copies from a selectorless Service's Endpoints. */
export const MANAGED_BY_ENDPOINTS_MIRRORING = 'endpointslicemirroring-controller.k8s.io';

/** linkerd-failover's `--selector` default (controller/src/main.rs). */
const LINKERD_FAILOVER_DEFAULT_SELECTOR = FAILOVER_CONTROLLED_BY_LABEL;

/** Up to this many names a list selects its slices by name; beyond, it reads every slice, filtered here. */
const NAMES_PER_LIST = 50;
/** A page of that list (kubectl's chunk size): the API server never answers one huge list at once. */
const PAGE = 500;

type Named = { namespace: string; name: string };

const keyOf = (namespace: string | undefined, name: string | undefined) => `${namespace ?? ''}/${name ?? ''}`;
const sliceService = (s: V1EndpointSlice) =>
  keyOf(s.metadata?.namespace, s.metadata?.labels?.[SERVICE_NAME_LABEL]);

/**
 * The EndpointSlices of these Services (further narrowed by `selector`), kept to the Services' own:
 * one list across namespaces, page by page, whatever their number; by name while few are wanted
 * (a short request line), else every slice of a Service, since a cluster mid-migration can have
 * thousands of mirrors and a list per chunk of names would ask the API server to filter every
 * slice of the cluster once per chunk.
 */
async function slicesOf(
  client: KubeClient,
  services: readonly Named[],
  selector = '',
): Promise<V1EndpointSlice[]> {
  if (services.length === 0) return [];
  const wanted = new Set(services.map((s) => keyOf(s.namespace, s.name)));
  const names = [...new Set(services.map((s) => s.name))].sort();
  const byName = names.length <= NAMES_PER_LIST ? ` in (${names.join(',')})` : '';
  const { items } = await client.list<V1EndpointSlice>(R.endpointSlices, {
    labelSelector: [`${SERVICE_NAME_LABEL}${byName}`, selector].filter(Boolean).join(','),
    limit: PAGE,
  });
  return items.filter((s) => wanted.has(sliceService(s)));
}

/**
 * A mirror-labelled Service that Isthmus did not make (nor claims routes for, which the gateways
 * judge). Remote-discovery mirrors are left out: Linkerd writes no endpoints for its own (meshed
 * callers resolve them through Linkerd's destination controller), so none is no fault; and an
 * unmarked one of an older Isthmus looks the same.
 */
function isForeignMirror(s: V1Service): boolean {
  return !claimsRoutes(s) && s.metadata?.labels?.[REMOTE_DISCOVERY_LABEL] === undefined;
}

/** These Services, with the ready addresses their slices list. */
function foreignMirrorFacts(services: V1Service[], slices: V1EndpointSlice[]): ForeignMirror[] {
  const ready = new Map<string, Set<string>>();
  for (const slice of slices) {
    const addresses = ready.get(sliceService(slice)) ?? new Set<string>();
    ready.set(sliceService(slice), addresses);
    // An absent `ready` means ready (discovery.k8s.io/v1 EndpointConditions).
    for (const e of slice.endpoints ?? [])
      if (e.conditions?.ready !== false) for (const a of e.addresses ?? []) addresses.add(a);
  }
  return services.map((s) => ({
    namespace: s.metadata?.namespace ?? '',
    name: s.metadata?.name ?? '',
    cluster: s.metadata?.labels?.[CLUSTER_NAME_LABEL] ?? '',
    linkerd: isLinkerdMirror(s),
    readyEndpoints: ready.get(keyOf(s.metadata?.namespace, s.metadata?.name))?.size ?? 0,
    ...(s.spec?.clusterIP === 'None' ? { headless: true as const } : {}),
  }));
}

/**
 * The mirror-labelled Services of a cluster that Isthmus did not make, with their ready addresses.
 * Not `!isthmus.dev/mirror` on the server: Linkerd copies the remote Service's labels, so its mirror
 * of a cluster's Isthmus mirror, exported on, carries that other cluster's mark.
 */
export async function readForeignMirrors(client: KubeClient): Promise<ForeignMirror[]> {
  const { items } = await client.list<V1Service>(R.services, {
    labelSelector: `${MIRRORED_SERVICE_LABEL}=true,${CLUSTER_NAME_LABEL}`,
  });
  const services = items.filter(isForeignMirror);
  const named = services.map((s) => ({
    namespace: s.metadata?.namespace ?? '',
    name: s.metadata?.name ?? '',
  }));
  return foreignMirrorFacts(services, await slicesOf(client, named));
}

/** A slice as the check names it: where it sends the mirror's callers. */
function foreignSlice(s: V1EndpointSlice): ForeignSlice {
  const managedBy = s.metadata?.labels?.[MANAGED_BY_LABEL];
  // A port without a number stands for every port of the address (discovery.k8s.io/v1).
  const ports = (s.ports ?? []).map((p) => p.port);
  const at = (a: string, port: number | undefined) => (port === undefined ? a : hostPort(a, port));
  return {
    namespace: s.metadata?.namespace ?? '',
    name: s.metadata?.name ?? '',
    service: s.metadata?.labels?.[SERVICE_NAME_LABEL] ?? '',
    ...(managedBy ? { managedBy } : {}),
    addresses: (s.endpoints ?? []).flatMap((e) =>
      (e.addresses ?? []).flatMap((a) => (ports.length > 0 ? ports.map((p) => at(a, p)) : [a])),
    ),
  };
}

/** The slices of these Isthmus mirrors that none of Isthmus's controllers wrote (NOT_ISTHMUS_SLICES). */
export async function readForeignSlices(
  client: KubeClient,
  mirrors: readonly MirrorFacts[],
): Promise<ForeignSlice[]> {
  const slices = await slicesOf(client, mirrors, NOT_ISTHMUS_SLICES);
  return slices
    .map(foreignSlice)
    .sort((a, b) => keyOf(a.namespace, a.name).localeCompare(keyOf(b.namespace, b.name)));
}

const LINKERD_LINK_CRD = 'links.multicluster.linkerd.io';

type LinkerdLinkObject = KubeObject & { spec?: { targetClusterName?: string } };
type CrdObject = KubeObject & {
  spec?: { group?: string; versions?: { name: string; served?: boolean; storage?: boolean }[] };
};

/**
 * Linkerd multicluster's Links, through a version its CRD serves (v1alpha1 to v1alpha3 across
 * Linkerd releases); undefined when Linkerd multicluster is not installed: no CRD, or its resource
 * type not served (404).
 */
export async function readLinkerdLinks(client: KubeClient): Promise<LinkerdLink[] | undefined> {
  const crd = await client.get<CrdObject>(R.crds, undefined, LINKERD_LINK_CRD);
  const versions = (crd?.spec?.versions ?? []).filter((v) => v.served);
  const version = versions.find((v) => v.storage) ?? versions[0];
  if (!crd || !version) return undefined;
  const resource: ResourceRef = {
    group: crd.spec?.group ?? 'multicluster.linkerd.io',
    version: version.name,
    plural: 'links',
    kind: 'Link',
    namespaced: true,
  };
  try {
    const { items } = await client.list<LinkerdLinkObject>(resource);
    return items.map((l) => ({
      namespace: l.metadata?.namespace ?? '',
      name: l.metadata?.name ?? '',
      cluster: l.spec?.targetClusterName ?? l.metadata?.name ?? '',
    }));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Every TrafficSplit labelled for a failover controller, whichever; none without the TrafficSplit CRD. */
export async function readLabelledSplits(client: KubeClient): Promise<TrafficSplit[]> {
  try {
    const { items } = await client.list<TrafficSplit>(R.trafficSplitsV1alpha2, {
      labelSelector: FAILOVER_CONTROLLED_BY_LABEL,
    });
    return items;
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/**
 * A flag's value in an argv, as clap (linkerd-failover) and commander (Isthmus) read it: `--flag v`
 * or `--flag=v`, and for a short one (`-l`) also `-lv`; the last one given; undefined when absent.
 */
export function flagValue(args: readonly string[], names: readonly string[]): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    for (const name of names) {
      const short = name.length === 2 && name[0] === '-' && name[1] !== '-';
      if (a === name && i + 1 < args.length) value = args[i + 1];
      else if (a.startsWith(`${name}=`)) value = a.slice(name.length + 1);
      else if (short && a.startsWith(name) && a.length > 2) value = a.slice(2);
    }
  }
  return value;
}

/** linkerd-failover's Deployments, in any namespace (its chart labels it app.kubernetes.io/name=linkerd-failover). */
export async function readLinkerdFailover(client: KubeClient): Promise<LinkerdFailover[]> {
  const { items } = await client.list<V1Deployment>(R.deployments, {
    labelSelector: 'app.kubernetes.io/name=linkerd-failover',
  });
  return items.map((d) => {
    const containers = d.spec?.template?.spec?.containers ?? [];
    const c = containers.find((x) => x.name === 'linkerd-failover') ?? containers[0];
    return {
      namespace: d.metadata?.namespace ?? '',
      name: d.metadata?.name ?? '',
      available: d.status?.availableReplicas ?? 0,
      selector:
        flagValue([...(c?.command ?? []), ...(c?.args ?? [])], ['--selector', '-l']) ??
        LINKERD_FAILOVER_DEFAULT_SELECTOR,
    };
  });
}
