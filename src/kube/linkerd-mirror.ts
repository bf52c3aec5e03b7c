/**
 * Who made a Service labelled `mirror.linkerd.io/mirrored-service=true`: Isthmus, Linkerd's service
 * mirror (which may still link the same cluster while a user moves to Isthmus), or neither. Both
 * write the same two labels (the contract's keys are Linkerd's), and Linkerd puts its gateway
 * identity on the mirror's Endpoints, not on the Service, so Isthmus recognises its own mirrors
 * positively, by ISTHMUS_MIRROR_LABEL, and leaves every other one alone: the mirror controller never
 * rewrites or deletes it (`Conflict`), the gateway opens no listener for it, and `isthmus check`,
 * `unlink` and `uninstall` do not count it as Isthmus's.
 */
import {
  CLUSTER_NAME_LABEL,
  EGRESS_PORTS_ANNOTATION,
  FEDERATION_LABEL,
  ISTHMUS_MIRROR_LABEL,
  LINKERD_GATEWAY_IDENTITY_ANNOTATION,
  LINKERD_LOCAL_DISCOVERY_ANNOTATION,
  LINKERD_REMOTE_DISCOVERY_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  MIRRORED_SERVICE_LABEL,
  REMOTE_DISCOVERY_LABEL,
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
  SERVICE_NAME_LABEL,
} from './keys.js';
import type { V1EndpointSlice, V1Service } from './types.js';

/**
 * Isthmus's own mirror: marked with the cluster its cluster-name label names (a mark naming another
 * cluster was copied from a remote mirror by Linkerd's service mirror, which copies labels). A
 * mirror written before the mark existed is recognised by what only Isthmus ever wrote on it, so an
 * upgrade orphans none (the controller marks each at its next sync): `isthmus.dev/remote-gateway`
 * (every gateway mirror, headless parent and per-pod mirror), the `isthmus.dev/federation` label,
 * or, for a remote-discovery mirror, which carried neither, one of `slices` that the controller
 * wrote for this very Service (Linkerd writes no Endpoints for its remote-discovery mirrors; a
 * gateway mirror that Linkerd's service mirror took over and unmarked keeps our slice, and is
 * Linkerd's now). Any other `isthmus.dev/*` key proves nothing: Linkerd copies the remote Service's
 * annotations, such as an export's `isthmus.dev/allowed-clusters`.
 */
export function isIsthmusMirror(
  service: V1Service | undefined,
  slices: readonly (V1EndpointSlice | undefined)[] = [],
): boolean {
  const labels = service?.metadata?.labels ?? {};
  if (labels[MIRRORED_SERVICE_LABEL] !== 'true') return false;
  const mark = labels[ISTHMUS_MIRROR_LABEL];
  if (mark !== undefined) return mark === labels[CLUSTER_NAME_LABEL];
  return (
    service?.metadata?.annotations?.[REMOTE_GATEWAY_ANNOTATION] !== undefined ||
    labels[FEDERATION_LABEL] !== undefined ||
    (labels[REMOTE_DISCOVERY_LABEL] !== undefined && slices.some((s) => writtenFor(s, service)))
  );
}

/**
 * A mirror-labelled Service the gateways judge: Isthmus's mirror (by the Service alone), or any that
 * claims an egress port or a remote gateway, which anyone may write and which is refused with the
 * reason unless its Link vouches for it (src/gateway/watch-mirrors.ts, `admitRoutes`). Others claim
 * nothing: no listener, no refusal.
 */
export function claimsRoutes(service: V1Service): boolean {
  const annotations = service.metadata?.annotations ?? {};
  return (
    isIsthmusMirror(service) ||
    annotations[EGRESS_PORTS_ANNOTATION] !== undefined ||
    annotations[REMOTE_GATEWAY_ANNOTATION] !== undefined
  );
}

/** A slice the mirror controller wrote for that Service: managed by it, owned by the Service's uid. */
function writtenFor(slice: V1EndpointSlice | undefined, service: V1Service | undefined): boolean {
  const meta = slice?.metadata;
  const uid = service?.metadata?.uid;
  return (
    meta?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_MIRROR &&
    meta.labels[SERVICE_NAME_LABEL] === service?.metadata?.name &&
    meta.namespace === service?.metadata?.namespace &&
    uid !== undefined &&
    (meta.ownerReferences ?? []).some((o) => o.uid === uid)
  );
}

/**
 * What Linkerd writes on the Services it makes: the remote's name on every mirror (gateway,
 * headless, per-pod, remote-discovery), the members on a 2.17 federated Service. The gateway
 * identity is on the Endpoints (where Isthmus does not read), but is kept for a Service that has it.
 */
const LINKERD_KEYS = [
  REMOTE_SVC_FQ_NAME_ANNOTATION,
  LINKERD_REMOTE_DISCOVERY_ANNOTATION,
  LINKERD_LOCAL_DISCOVERY_ANNOTATION,
  LINKERD_GATEWAY_IDENTITY_ANNOTATION,
];

/**
 * A Service Linkerd's service mirror made (a mirror, or a 2.17 `<svc>-federated`): labelled as a
 * mirror, not Isthmus's, and carrying a key Linkerd writes. A Service labelled as a mirror that is
 * neither Isthmus's nor Linkerd's (made by hand, say) is left alone all the same.
 */
export function isLinkerdMirror(
  service: V1Service | undefined,
  slices: readonly (V1EndpointSlice | undefined)[] = [],
): boolean {
  if (service?.metadata?.labels?.[MIRRORED_SERVICE_LABEL] !== 'true') return false;
  if (isIsthmusMirror(service, slices)) return false;
  const annotations = service.metadata.annotations ?? {};
  return LINKERD_KEYS.some((k) => annotations[k] !== undefined);
}

/**
 * The egress ports the mirror controller's own EndpointSlices (`managed-by: mirror.isthmus.dev`)
 * list, by `namespace/service`: what vouches for a Service's claim to them (the gateway's
 * `admitRoutes` in src/gateway/watch-mirrors.ts, the mirror controller's port recovery).
 */
export type VouchedPorts = ReadonlyMap<string, ReadonlySet<number>>;

/** The ports the mirror controller's slices among `slices` list, per Service they belong to. */
export function vouchedPorts(slices: readonly V1EndpointSlice[]): VouchedPorts {
  const out = new Map<string, Set<number>>();
  for (const slice of slices) {
    const labels = slice.metadata?.labels ?? {};
    const service = labels[SERVICE_NAME_LABEL];
    if (labels[MANAGED_BY_LABEL] !== MANAGED_BY_MIRROR || !service) continue;
    const key = `${slice.metadata?.namespace ?? ''}/${service}`;
    const ports = out.get(key) ?? new Set<number>();
    for (const p of slice.ports ?? []) if (typeof p.port === 'number') ports.add(p.port);
    // Ports given but not yet in `ports`: the controller lists a port there (where kube-proxy sends
    // callers) only once the gateways listen on it, and they listen only on vouched ports.
    for (const port of parseEgressPorts(slice.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).values())
      ports.add(port);
    out.set(key, ports);
  }
  return out;
}

/**
 * An `isthmus.dev/egress-ports` value (`<portName or number>=<port>,…`, on a mirror and on its
 * slice) by port key; malformed entries are ignored (the controller re-allocates them).
 */
export function parseEgressPorts(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of (text ?? '').split(',')) {
    const eq = entry.lastIndexOf('=');
    if (eq <= 0) continue;
    const port = Number(entry.slice(eq + 1));
    if (Number.isInteger(port) && port > 0 && port <= 65535) out.set(entry.slice(0, eq).trim(), port);
  }
  return out;
}

/** `namespace/name` order: the one `vouchedNames` (and incremental admission) decide ties by. */
export function sliceKeyOf(slice: V1EndpointSlice): string {
  return `${slice.metadata?.namespace ?? ''}/${slice.metadata?.name ?? ''}`;
}

const bySliceKey = (a: V1EndpointSlice, b: V1EndpointSlice): number => {
  const x = sliceKeyOf(a);
  const y = sliceKeyOf(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * The remote name each mirror's slice records for its egress ports (the mirror controller's
 * slices only), by `namespace/service`: a tenant who may edit a mirror Service in its namespace can
 * change its `mirror.linkerd.io/remote-svc-fq-name`, not its slice. Of two slices of one mirror
 * that disagree, the one whose `namespace/name` sorts last: never the list's order, which a relist
 * changes without an event (a review's finding), and gateway replicas must agree.
 */
export function vouchedNames(slices: readonly V1EndpointSlice[]): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const slice of [...slices].sort(bySliceKey)) {
    const labels = slice.metadata?.labels ?? {};
    const service = labels[SERVICE_NAME_LABEL];
    const fqName = slice.metadata?.annotations?.[REMOTE_SVC_FQ_NAME_ANNOTATION];
    if (labels[MANAGED_BY_LABEL] !== MANAGED_BY_MIRROR || !service || !fqName) continue;
    out.set(`${slice.metadata?.namespace ?? ''}/${service}`, fqName);
  }
  return out;
}
