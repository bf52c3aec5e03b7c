/**
 * The pure planner of one mirror (house style 1): from the remote Service, the Link, the gateway
 * state and what exists locally, decide the writes. The applier does the I/O; the planner is tested
 * with tables.
 */
import {
  CLUSTER_NAME_LABEL,
  EXPORTED_LABEL,
  HEADLESS_MIRROR_LABEL,
  REMOTE_DISCOVERY_EXPORT,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
} from '../kube/keys.js';
import type { V1EndpointSlice, V1Namespace, V1Service, V1ServicePort } from '../kube/types.js';
import type { DirectEndpoints } from './direct-endpoints.js';
import { keptClusterIP, withClusterIP } from './hand-over.js';
import { type LinkConfig, selectorMatches } from './link-config.js';
import {
  adoption,
  buildDirectSlices,
  buildMirrorNamespace,
  buildMirrorService,
  buildMirrorSlice,
  federationLabel,
  headlessParentLabel,
  isHeadless,
  isOurService,
  isOurSlice,
  MAX_SERVICE_NAME,
  mirrorName,
  mirrorSliceName,
  notOursMessage,
  portKey,
  remoteDiscoveryLabels,
  sliceReadiness,
  splitSlices,
  tunnelledPorts,
} from './mirror-objects.js';
import { serviceDiffers, sliceDiffers } from './owned-fields.js';
import { type MirrorReason, skipReason, slicePortsSkip } from './skip-reason.js';

export type GatewayAlive = boolean | 'unknown';

export type Action =
  /** A missing namespace, with the Link's `enableNamespaceCreation`: created before the mirror. */
  | { kind: 'createNamespace'; namespace: V1Namespace }
  /**
   * adopt: the uid of a Service ours only by its slices (mirror-objects.ts `adoption`).
   * keepClusterIP: the address `service` asks for, that of the Service that held its name until
   * just now (hand-over.ts); a create the API server refuses for it is made again without.
   */
  | { kind: 'applyService'; service: V1Service; adopt?: string; keepClusterIP?: string }
  /** The applier sets the ownerReference to the mirror Service it just applied or finds. */
  | { kind: 'applySlice'; slice: V1EndpointSlice }
  | { kind: 'deleteService'; namespace: string; name: string; adopt?: string }
  /**
   * heldBy: the uid of the Service, not ours, that holds the mirror's name: the slice goes only
   * while that very Service holds it (the applier re-reads it).
   */
  | { kind: 'deleteSlice'; namespace: string; name: string; heldBy?: string };

export interface ServiceMirrorStatus {
  namespace: string;
  name: string;
  reason: MirrorReason;
  message?: string;
}

/**
 * What kind of mirror: a plain one, the headless parent, one StatefulSet pod's mirror, or a
 * remote-discovery mirror whose endpoints are the remote pods (headless if the remote Service is).
 */
export type MirrorTarget =
  | { type: 'service' }
  | { type: 'headless'; pods: { hostname: string; clusterIP?: string }[] }
  | { type: 'pod'; hostname: string }
  | { type: 'direct'; endpoints: DirectEndpoints };

export interface MirrorPlanInput {
  remote: { service: V1Service; readyEndpointCount: number };
  link: LinkConfig;
  /** alive: of the remote gateway; addresses: of the ready local gateway pods; remote: `<addr>:<port>`. */
  gateway: { alive: GatewayAlive; addresses: string[]; remote: string };
  /**
   * namespaceTerminating: the namespace is stored but being deleted (metadata.deletionTimestamp),
   * held by finalizers: the API server refuses anything new in it (NamespaceLifecycle admission).
   */
  local: LocalMirror & { namespaceExists: boolean; namespaceTerminating?: boolean };
  egressPorts: ReadonlyMap<string, number>;
  /**
   * The egress ports every ready local gateway listens on (their admin `/routes`); absent: not
   * known, every egress port is listed. See `forwardedPorts`.
   */
  listening?: ReadonlySet<number>;
  target?: MirrorTarget;
  /** This cluster's name; absent: `isthmus.dev/allowed-clusters` is left to the remote ingress. */
  localCluster?: string;
  /** The IP family a Service gets here by default (the `kubernetes` Service's), when known. */
  clusterFamily?: string;
  /**
   * The Service that held the mirror's name until it was deleted (the informer's last copy), while
   * the name is free: a new mirror keeps its ClusterIP if it was Linkerd's (hand-over.ts).
   */
  vacated?: V1Service;
}

/**
 * A mirror as it exists locally: its Service, its slice, and the further slices of a mirror with
 * more endpoints than one slice holds or remote pods of several port sets (`<mirror>.1`,
 * `<mirror>.2`, ...: splitSlices).
 */
export interface LocalMirror {
  service?: V1Service;
  slice?: V1EndpointSlice;
  extraSlices?: readonly V1EndpointSlice[];
}

export interface MirrorPlan {
  name: string;
  actions: Action[];
  status: ServiceMirrorStatus;
  /** Whether the mirror's endpoints are (or will be, once applied) ready: for export-to-ready timing. */
  ready: boolean;
}

/** The name, authority and labels of the mirror for a target. */
export function mirrorIdentity(
  service: V1Service,
  link: LinkConfig,
  target: MirrorTarget = { type: 'service' },
) {
  const svc = service.metadata?.name ?? '';
  const ns = service.metadata?.namespace ?? '';
  const fqService = `${svc}.${ns}.svc.${link.clusterDomain}`;
  if (target.type === 'pod') {
    return {
      name: mirrorName(target.hostname, link.clusterName),
      fqName: `${target.hostname}.${fqService}`,
      extraLabels: headlessParentLabel(mirrorName(svc, link.clusterName)),
    };
  }
  return {
    name: mirrorName(svc, link.clusterName),
    fqName: fqService,
    extraLabels: {
      ...(target.type === 'direct' ? remoteDiscoveryLabels(link.clusterName, svc) : {}),
      ...(isFederatedMember(service, link) ? federationLabel(svc) : {}),
    },
  };
}

/**
 * A remote federated member: its mirror (the plain or headless parent one, not per-pod mirrors)
 * is labelled with the federation, which src/federation reads. Decided from the remote labels, so
 * a Service that leaves the federation but stays exported loses the label.
 */
function isFederatedMember(service: V1Service, link: LinkConfig): boolean {
  return selectorMatches(link.federatedServiceSelector, service.metadata?.labels);
}

/**
 * The MissingNamespace message of a namespace being deleted; the same whether the local cache or
 * the API server's 403 said so first, so the status (and its Event) does not change in between.
 */
export function terminatingNamespaceMessage(namespace: string, link: LinkConfig): string {
  return link.enableNamespaceCreation
    ? `namespace ${namespace} is being deleted locally: re-created and mirrored again once it is gone`
    : `namespace ${namespace} is being deleted locally: mirrored again once it is re-created`;
}

/**
 * The egress ports a mirror's slice lists (where kube-proxy sends callers): those the local
 * gateways listen on, and those it lists already (a gateway restarting leaves its pod's endpoints
 * through its readiness, not through the ports). Absent `listening`: all of them; all of them too
 * when the slice lists ports now and would list none of `egress` (a serving mirror whose ports
 * all moved, its remote Service's only port named, say: an empty slice is not ready, and a failover
 * or a federation would drop a mirror that serves on at once, refused connections aside).
 */
export function forwardedPorts(
  listening: ReadonlySet<number> | undefined,
  existing: V1EndpointSlice | undefined,
  egress: Iterable<number> = [],
): ReadonlySet<number> | undefined {
  if (listening === undefined) return undefined;
  const out = new Set(listening);
  const listed = (existing?.ports ?? []).flatMap((p) => (p.port === undefined ? [] : [p.port]));
  for (const p of listed) out.add(p);
  const wanted = [...egress];
  if (listed.length > 0 && wanted.length > 0 && !wanted.some((p) => out.has(p))) return undefined;
  return out;
}

/** Readiness: alive → true, dead → false, unknown → whatever the slice says now (restart keeps it). */
export function endpointReadiness(alive: GatewayAlive, existing: V1EndpointSlice | undefined): boolean {
  if (alive === 'unknown') return sliceReadiness(existing) ?? false;
  return alive;
}

export function planMirror(input: MirrorPlanInput): MirrorPlan {
  const { remote, link, gateway, local } = input;
  const target = input.target ?? { type: 'service' };
  const id = mirrorIdentity(remote.service, link, target);
  const namespace = remote.service.metadata?.namespace ?? '';
  const skipped = (reason: Exclude<MirrorReason, 'Mirrored'>, message: string, actions: Action[] = []) => ({
    name: id.name,
    actions,
    status: { namespace, name: remote.service.metadata?.name ?? '', reason, message },
    ready: false,
  });

  const skip = skipReason(remote.service, link, input.localCluster);
  if (skip) {
    // Its own mirror goes; another Service's per-pod mirror of that name stays (and vice versa).
    const own =
      local.service?.metadata?.labels?.[HEADLESS_MIRROR_LABEL] === id.extraLabels[HEADLESS_MIRROR_LABEL];
    const actions = !local.service || own ? planDelete(namespace, id.name, local, link.clusterName) : [];
    return skipped(skip.reason, skip.message, actions);
  }
  if (id.name.length > MAX_SERVICE_NAME) {
    return skipped('InvalidService', `mirror name ${id.name} is longer than ${MAX_SERVICE_NAME} characters`);
  }
  const actions: Action[] = [];
  // Its mirrors go with it (the namespace's deletion removes what it holds); not even a Link that
  // creates namespaces can create this one before it is gone.
  if (local.namespaceTerminating)
    return skipped('MissingNamespace', terminatingNamespaceMessage(namespace, link));
  if (!local.namespaceExists) {
    if (!link.enableNamespaceCreation)
      return skipped('MissingNamespace', `namespace ${namespace} does not exist locally`);
    actions.push({ kind: 'createNamespace', namespace: buildMirrorNamespace(namespace, link.clusterName) });
  }
  if (local.service && !isOurService(local.service, link.clusterName, localSlices(local))) {
    const source = `${namespace}/${remote.service.metadata?.name ?? ''}`;
    // Our slices of that name would send its callers to egress ports the gateways do not serve for
    // a Service not ours (a mirror of ours that Linkerd's service mirror rewrote, say): they go.
    return skipped(
      'Conflict',
      notOursMessage(local.service, link.clusterName, source),
      deleteOwnSlices(namespace, id.name, local, link.clusterName, local.service.metadata?.uid),
    );
  }
  // `<hostname>-<cluster>` of a StatefulSet pod can equal `<svc>-<cluster>` of another Service:
  // the first one keeps the name.
  const parentLabel = local.service?.metadata?.labels?.[HEADLESS_MIRROR_LABEL];
  if (local.service && parentLabel !== id.extraLabels[HEADLESS_MIRROR_LABEL]) {
    return skipped('Conflict', nameTakenMessage(`${namespace}/${id.name}`, local.service, id.fqName));
  }
  if (local.slice && !isOurSlice(local.slice, link.clusterName)) {
    return skipped(
      'Conflict',
      `EndpointSlice ${namespace}/${id.name} exists and is not managed by the mirror`,
    );
  }
  // Nothing is written whose slice the API would refuse; a mirror that grew past it goes, its
  // egress ports with it, as on any other InvalidService.
  const portsSkip = slicePortsSkip(remote.service, target.type === 'direct');
  if (portsSkip)
    return skipped(
      portsSkip.reason,
      portsSkip.message,
      planDelete(namespace, id.name, local, link.clusterName),
    );

  // Remote discovery: no gateway, so no egress ports; the remote pods are the endpoints.
  if (target.type === 'direct') {
    const service = buildMirrorService({
      remote: remote.service,
      link,
      name: id.name,
      fqName: id.fqName,
      egressPorts: new Map(),
      headless: isHeadless(remote.service),
      extraLabels: id.extraLabels,
      ...namedFamily(
        directFamily(target.endpoints, isHeadless(remote.service)),
        input.clusterFamily,
        local.service,
      ),
    });
    const slices = buildDirectSlices(
      service,
      link.clusterName,
      target.endpoints,
      local.service?.metadata?.uid,
    );
    return finishPlan(id.name, remote.service, local, actions, takeOver(service, input), slices);
  }

  const headless = target.type === 'headless';
  const ports = tunnelledPorts(remote.service);
  const untunnelled = (remote.service.spec?.ports ?? []).filter((p) => !ports.includes(p));
  if (ports.length === 0) {
    return skipped(
      'InvalidService',
      `no TCP port (${untunnelled.map(describePort).join(', ')}): only TCP crosses the gateways; on a flat pod network, export it with ${EXPORTED_LABEL}=${REMOTE_DISCOVERY_EXPORT}`,
      planDelete(namespace, id.name, local, link.clusterName),
    );
  }
  // The headless parent needs no egress port: its endpoints are the per-pod mirrors' cluster IPs.
  const egressPorts = headless ? new Map<string, number>() : input.egressPorts;
  if (!headless) {
    const missing = ports.find((p) => !egressPorts.has(portKey(p)));
    if (missing) return skipped('PortRangeExhausted', `no egress port left for port ${portKey(missing)}`);
  }

  const service = buildMirrorService({
    remote: remote.service,
    link,
    name: id.name,
    fqName: id.fqName,
    remoteGateway: gateway.remote,
    egressPorts,
    headless,
    extraLabels: id.extraLabels,
    ports,
    // Its slice holds the local gateways, of the cluster's family (gateway-addresses.ts).
    ...namedFamily(headless ? undefined : input.clusterFamily, input.clusterFamily, local.service),
  });
  const ready = endpointReadiness(gateway.alive, local.slice);
  let addresses: string[] = [];
  const hostnames = new Map<string, string>();
  if (headless) {
    for (const pod of target.pods) {
      if (!pod.clusterIP || pod.clusterIP === 'None') continue;
      addresses.push(pod.clusterIP);
      hostnames.set(pod.clusterIP, pod.hostname);
    }
  } else if (remote.readyEndpointCount > 0) {
    addresses = gateway.addresses;
  }
  const ownerUid = local.service?.metadata?.uid;
  const slice = buildMirrorSlice({
    service,
    cluster: link.clusterName,
    addresses,
    ready,
    egressPorts,
    ...(headless
      ? {}
      : { forwarded: forwardedPorts(input.listening, local.slice, input.egressPorts.values()) }),
    hostnames,
    ...(ownerUid ? { ownerUid } : {}),
  });
  const plan = finishPlan(id.name, remote.service, local, actions, takeOver(service, input), [slice]);
  if (untunnelled.length > 0) {
    plan.status.message = `${untunnelled.map(describePort).join(', ')} not mirrored: only TCP crosses the gateways`;
  }
  return plan;
}

/**
 * A mirror about to be created where the Service that held its name was Linkerd's mirror of this
 * cluster: asks for its ClusterIP, which callers hold (hand-over.ts).
 */
function takeOver(service: V1Service, input: MirrorPlanInput): { service: V1Service; keep?: string } {
  const ip = input.local.service
    ? undefined
    : keptClusterIP(input.vacated, input.link.clusterName, service, input.clusterFamily);
  return ip === undefined ? { service } : { service: withClusterIP(service, ip), keep: ip };
}

/**
 * The family of a remote-discovery mirror's endpoints: kube-proxy serves a Service from the slices
 * of its own family, so remote pods of another family than the cluster's default (the remote has no
 * other) need a mirror Service of their family: a dual-stack cluster allocates it, a single-stack
 * one refuses it (422, reported as InvalidService), where a Service of the default family would
 * have silently no route. Headless mirrors have no cluster IP to route; without endpoints the
 * family is not known yet.
 */
function directFamily(endpoints: DirectEndpoints, headless: boolean): string | undefined {
  return headless || !endpoints.groups.some((g) => g.endpoints.length > 0)
    ? undefined
    : endpoints.addressType;
}

/**
 * `ipFamilies` for a mirror Service that must be of `family`: named when the API server's default
 * (the cluster's family) would not give it, or when the stored mirror has another primary family
 * (pods back to the default family, a remote-discovery mirror moved to the tunnel), which makes
 * the applier re-create it, as the primary family cannot change in place. Otherwise left to the
 * default, so the mirrors of a single-family setup are written as they always were.
 */
export function namedFamily(
  family: string | undefined,
  clusterFamily: string | undefined,
  stored: V1Service | undefined,
): { ipFamily?: 'IPv4' | 'IPv6' } {
  if ((family !== 'IPv4' && family !== 'IPv6') || !clusterFamily) return {};
  const storedFamily = stored?.spec?.ipFamilies?.[0];
  if (family === clusterFamily && (storedFamily === undefined || storedFamily === family)) return {};
  return { ipFamily: family };
}

/**
 * A mirror name another mirror of ours holds, naming both remotes (their `remote-svc-fq-name`): a
 * pod's `<hostname>-<cluster>` next to `<svc>-<cluster>` of a Service of that name, say.
 */
function nameTakenMessage(name: string, holder: V1Service, fqName: string): string {
  const theirs = holder.metadata?.annotations?.[REMOTE_SVC_FQ_NAME_ANNOTATION] ?? 'another remote Service';
  return `Service ${name} already mirrors ${theirs}, so ${fqName} gets no mirror of that name`;
}

/** `dns (53/UDP)`, or `53/UDP` for an unnamed port. */
function describePort(p: V1ServicePort): string {
  const spec = `${p.port}/${p.protocol ?? 'TCP'}`;
  return p.name ? `${p.name} (${spec})` : spec;
}

/**
 * The writes for a desired Service and slices that differ from what exists, and the outcome. The
 * slices (one per port set) are split as the API server needs (splitSlices);
 * slices no longer needed are deleted, the last first, so the ones left are always `<mirror>`,
 * `<mirror>.1`, ... without a gap.
 */
function finishPlan(
  name: string,
  remote: V1Service,
  local: MirrorPlanInput['local'],
  actions: Action[],
  { service, keep }: { service: V1Service; keep?: string },
  desired: readonly V1EndpointSlice[],
): MirrorPlan {
  if (!local.service || serviceDiffers(local.service, service))
    actions.push({
      kind: 'applyService',
      service,
      ...adoption(local.service, clusterOf(service)),
      ...(keep === undefined ? {} : { keepClusterIP: keep }),
    });
  const slices = splitSlices(desired);
  const existing = [local.slice, ...(local.extraSlices ?? [])];
  for (const [i, want] of slices.entries()) {
    const have = existing[i];
    if (!have || sliceDiffers(have, want)) actions.push({ kind: 'applySlice', slice: want });
  }
  const cluster = slices[0]?.metadata?.labels?.[CLUSTER_NAME_LABEL] ?? '';
  actions.push(...deleteExtraSlices(remote.metadata?.namespace ?? '', name, local, cluster, slices.length));
  return {
    name,
    actions,
    status: {
      namespace: remote.metadata?.namespace ?? '',
      name: remote.metadata?.name ?? '',
      reason: 'Mirrored',
    },
    ready: slices.some((s) => (s.endpoints ?? []).some((e) => e.conditions?.ready === true)),
  };
}

/** Deletes of the mirror's further slices from `<mirror>.<keep>` on, the last first; only ours. */
function deleteExtraSlices(
  namespace: string,
  name: string,
  local: LocalMirror,
  cluster: string,
  keep: number,
): Action[] {
  const actions: Action[] = [];
  const extras = local.extraSlices ?? [];
  for (let i = extras.length; i >= Math.max(1, keep); i--) {
    if (isOurSlice(extras[i - 1], cluster))
      actions.push({ kind: 'deleteSlice', namespace, name: mirrorSliceName(name, i) });
  }
  return actions;
}

/**
 * Our slices of a mirror name that `heldBy`'s Service (not ours) holds: the further ones, the last
 * first, then the first. A stranger's slice of that name stays.
 */
function deleteOwnSlices(
  namespace: string,
  name: string,
  local: LocalMirror,
  cluster: string,
  heldBy: string | undefined,
): Action[] {
  const guard = heldBy === undefined ? {} : { heldBy };
  const actions = deleteExtraSlices(namespace, name, local, cluster, 0).map((a) => ({ ...a, ...guard }));
  if (local.slice && isOurSlice(local.slice, cluster))
    actions.push({ kind: 'deleteSlice', namespace, name, ...guard });
  return actions;
}

/** Removal of a mirror: only what is ours; a stranger's object of that name stays. */
export function planDelete(namespace: string, name: string, local: LocalMirror, cluster: string): Action[] {
  const actions: Action[] = deleteExtraSlices(namespace, name, local, cluster, 0);
  if (local.slice && isOurSlice(local.slice, cluster)) actions.push({ kind: 'deleteSlice', namespace, name });
  if (local.service && isOurService(local.service, cluster, localSlices(local)))
    actions.push({ kind: 'deleteService', namespace, name, ...adoption(local.service, cluster) });
  return actions;
}

function localSlices(local: LocalMirror): (V1EndpointSlice | undefined)[] {
  return [local.slice, ...(local.extraSlices ?? [])];
}

function clusterOf(service: V1Service): string {
  return service.metadata?.labels?.[CLUSTER_NAME_LABEL] ?? '';
}
