/**
 * Making a split real for callers without a mesh (see README.md, "Apex steering"). Nothing but a
 * mesh proxy reads TrafficSplit weights, so Isthmus writes EndpointSlices for the apex Service
 * itself, labelled `endpointslice.kubernetes.io/managed-by=failover.isthmus.dev`: the cluster's
 * EndpointSlice controller leaves slices of other managers alone, and kube-proxy balances over the
 * ready endpoints of all slices of a Service. Each slice lists some ready endpoints of one backend
 * (for a mirror: the local gateway's egress listener for it) under the apex's port names.
 *
 * Pure: the planner takes the apex, the weights and the slices it knows, and returns the slices
 * that should exist; the controller diffs and applies.
 */
import { createHash } from 'node:crypto';
import { MANAGED_BY_FAILOVER, MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from '../kube/keys.js';
import { sliceChunks } from '../kube/slice-chunks.js';
import type { V1EndpointSlice, V1Service, V1ServicePort } from '../kube/types.js';
import { type BackendShare, type CountCandidate, chooseCounts } from './choose-counts.js';
import { isApexSlice, isFailoverSlice, isReadyEndpoint, readyEndpointCount } from './endpoint-readiness.js';
import type { ParsedBackend } from './parse-split.js';

/** Label on Isthmus's apex slices: the TrafficSplit they realise (to find and clean them up). */
export const SPLIT_LABEL = 'failover.isthmus.dev/split';
/** Label on Isthmus's apex slices: the backend whose endpoints the slice carries. */
export const BACKEND_LABEL = 'failover.isthmus.dev/backend';

/** Who the slices belong to: a TrafficSplit (failover), or a federated Service (src/federation). */
export interface SliceOwner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  /** Labels that mark a slice as this owner's, besides the apex and backend: managed-by and a group. */
  labels: Record<string, string>;
}

/**
 * The split label's value: the split's name, or for a name past the 63 characters a label value
 * may hold (object names may have 253), its first 52 and a hash of the whole, so that long names
 * that share a prefix still differ.
 */
export function splitLabelValue(split: string): string {
  if (split.length <= 63) return split;
  return `${split.slice(0, 52)}-${shortHash(split)}`;
}

const SLICE_INFIX = '-isthmus-';

/** How often `part` occurs in `text`, overlaps counted. */
function occurrences(text: string, part: string): number {
  let n = 0;
  for (let i = text.indexOf(part); i !== -1; i = text.indexOf(part, i + 1)) n++;
  return n;
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/** The owner labels of a split's apex slices. */
export function splitSliceLabels(split: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_FAILOVER, [SPLIT_LABEL]: splitLabelValue(split) };
}

export interface PortMatching {
  /**
   * Map apex ports by name only. Without it, an apex and a backend with exactly one port each
   * (of the same protocol) are mapped onto each other whatever their names: a failover backup
   * serves the apex's traffic. A federation carries traffic only on ports of the same name.
   */
  matchByNameOnly?: boolean;
}

export interface ApexPlanInput extends PortMatching {
  namespace: string;
  apex: V1Service;
  owner: SliceOwner;
  /** Effective weights: the failover decision's, or the split's own for a steer-only split. */
  weights: readonly ParsedBackend[];
  /** Slices by `kubernetes.io/service-name`, for the apex and every backend (Isthmus's own are skipped). */
  slicesByService: ReadonlyMap<string, readonly V1EndpointSlice[]>;
}

/**
 * `ApexHasNoPorts` (condition reason): the apex Service declares no port, so there is nothing to
 * map a backend's ports onto and no slice can be written.
 */
export type ApexPlan =
  | {
      ok: true;
      slices: V1EndpointSlice[];
      shares: BackendShare[];
      maxError: number;
      problems: string[];
      /** The condition reason for `problems`: a port no backend maps, else a family the apex lacks. */
      problemReason: 'PortMismatch' | 'FamilyMismatch';
    }
  | { ok: false; reason: 'ApexHasNoPorts'; message: string };

interface MappedPort {
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

interface Candidate {
  address: string;
  addressType: string;
  ports: MappedPort[];
}

export function planApexSlices(input: ApexPlanInput): ApexPlan {
  const apexName = input.apex.metadata?.name ?? '';
  const apexPorts = input.apex.spec?.ports ?? [];
  if (apexPorts.length === 0) {
    return { ok: false, reason: 'ApexHasNoPorts', message: `apex Service ${apexName} has no ports` };
  }
  const families = servedFamilies(input.apex);
  const problems: string[] = [];
  let problemReason: 'PortMismatch' | 'FamilyMismatch' = 'FamilyMismatch';
  const endpointsOf = new Map<string, Candidate[][]>();
  const countCandidates: CountCandidate[] = [];
  // The apex's own endpoints are its selector's, not what Isthmus wrote for it (a split's or a federation's).
  const ownSlices = (input.slicesByService.get(apexName) ?? []).filter((s) => !isApexSlice(s));
  const ownReady = Math.max(
    0,
    ...families.map((f) => readyEndpointCount(ownSlices.filter((s) => s.addressType === f))),
  );

  for (const backend of input.weights) {
    if (backend.service === apexName) {
      // The apex's own (selector-managed) endpoints carry traffic whatever Isthmus lists.
      countCandidates.push({ ...backend, available: ownReady, fixed: true });
      continue;
    }
    const backendSlices = input.slicesByService.get(backend.service) ?? [];
    const candidates = backendCandidates(apexPorts, backendSlices, input);
    const unmapped = input.matchByNameOnly ? [] : unmappedPorts(apexPorts, backendSlices, input);
    if (candidates === null) {
      problems.push(`backend ${backend.service}: no port matches the apex's (${portNames(apexPorts)})`);
      problemReason = 'PortMismatch';
    } else if (unmapped.length > 0) {
      problems.push(`backend ${backend.service}: no port for the apex's ${portNames(unmapped)}`);
      problemReason = 'PortMismatch';
    }
    const perFamily = byFamily(families, candidates ?? []);
    // kube-proxy serves a family's callers from that family's slices alone.
    const unserved = families.filter((_, i) => perFamily[i]!.length === 0);
    if (candidates?.length && unserved.length === families.length) {
      problems.push(
        `backend ${backend.service}: its ready endpoints are ${familiesOf(candidates)}, the apex serves ${families.join(', ')}`,
      );
    } else if (candidates?.length && unserved.length > 0 && declaresFamilies(input.apex)) {
      const list = unserved.join(', ');
      problems.push(
        `backend ${backend.service}: no ${list} endpoint, so the apex's ${list} callers never reach it`,
      );
    }
    endpointsOf.set(backend.service, perFamily);
    countCandidates.push({ ...backend, available: podCount(perFamily), fixed: false });
  }
  if (!input.weights.some((b) => b.service === apexName)) {
    if (ownReady > 0)
      countCandidates.push({ service: apexName, weight: 0, available: ownReady, fixed: true });
  }

  const choice = chooseCounts(countCandidates);
  const slices: V1EndpointSlice[] = [];
  for (const share of choice.shares) {
    // kube-proxy serves each family of the apex from that family's slices alone, so each family
    // gets the share's count of its own endpoints.
    const chosen = (endpointsOf.get(share.service) ?? []).flatMap((c) => c.slice(0, share.endpoints));
    slices.push(...slicesFor(input, apexName, share.service, chosen));
  }
  return { ok: true, slices, shares: choice.shares, maxError: choice.maxError, problems, problemReason };
}

/**
 * How many endpoints of a backend planApexSlices can list for the apex at most: its ready
 * endpoints with a port that maps, in a family the apex serves, a dual-stack pod counted once.
 * A caller that wants every one of them listed (a federation) weighs each backend by this.
 */
export function listableEndpointCount(
  apex: V1Service,
  slices: readonly V1EndpointSlice[],
  matching: PortMatching = {},
): number {
  const candidates = backendCandidates(apex.spec?.ports ?? [], slices, matching) ?? [];
  return podCount(byFamily(servedFamilies(apex), candidates));
}

function byFamily(families: readonly string[], candidates: readonly Candidate[]): Candidate[][] {
  return families.map((f) => candidates.filter((c) => c.addressType === f));
}

/** A dual-stack backend lists each pod once per family: count pods, not addresses. */
function podCount(perFamily: readonly Candidate[][]): number {
  return Math.max(0, ...perFamily.map((c) => c.length));
}

/**
 * The address families the apex Service is served in, its primary first. Every Service the API
 * server returns lists them; a Service without (a test's, a headless one) takes both IP families.
 */
function servedFamilies(apex: V1Service): string[] {
  const families = apex.spec?.ipFamilies ?? [];
  return families.length > 0 ? [...families] : ['IPv4', 'IPv6'];
}

/** Families the apex was given by the API server, not assumed (see servedFamilies). */
function declaresFamilies(apex: V1Service): boolean {
  return (apex.spec?.ipFamilies ?? []).length > 0;
}

function familiesOf(candidates: readonly Candidate[]): string {
  return [...new Set(candidates.map((c) => c.addressType))].join(', ');
}

/**
 * Name of an apex slice, stable across reconciles so that an update replaces rather than piles
 * up: `<apex>-isthmus-<backend>` for a backend's first slice, and for any other (another family
 * or port mapping) `.` and a hash of its `group` (family and ports); a group over
 * MAX_SLICE_ENDPOINTS continues in `<that>.1`, `<that>.2` … (`chunk`). Service names are DNS-1035
 * labels, without a dot, so no backend's name can spell another's slice (`web-west`'s second or
 * `.1` vs `web-west-1`'s first); a hash is 10 hex digits, and a chunk number that long would take
 * 10^12 endpoints, so neither spells the other. A pair that can be spelt by another pair (apex
 * `a-isthmus-b` with backend `c`, and `a` with `b-isthmus-c`: "-isthmus-" more than once) carries
 * a hash of the pair after it, and a name with "-isthmus-" once splits one way only. At most
 * 63 + 9 + 63 + 3 × 11 + a few characters, a valid DNS-1123 subdomain.
 */
export function apexSliceName(apex: string, backend: string, group?: string, chunk = 0): string {
  const joined = `${apex}${SLICE_INFIX}${backend}`;
  const first =
    occurrences(joined, SLICE_INFIX) === 1 ? joined : `${joined}.${shortHash(`${apex}/${backend}`)}`;
  const name = group === undefined ? first : `${first}.${shortHash(group)}`;
  return chunk === 0 ? name : `${name}.${chunk}`;
}

function portNames(ports: readonly V1ServicePort[]): string {
  return ports.map((p) => p.name || String(p.port)).join(', ');
}

/**
 * Apex port → backend port of the same protocol: by name (a mirror's slice uses the service's port
 * names), or, unless `matchByNameOnly`, when both sides have exactly one port, that port. Null
 * when no apex port maps.
 */
function mapPorts(
  apexPorts: readonly V1ServicePort[],
  slice: V1EndpointSlice,
  matching: PortMatching,
): MappedPort[] | null {
  const slicePorts = slice.ports ?? [];
  const sole = apexPorts.length === 1 && slicePorts.length === 1 && !matching.matchByNameOnly;
  const mapped: MappedPort[] = [];
  for (const apexPort of apexPorts) {
    const protocol = apexPort.protocol ?? 'TCP';
    const name = apexPort.name ?? '';
    const sameProtocol = slicePorts.filter((p) => (p.protocol ?? 'TCP') === protocol);
    const target = sameProtocol.find((p) => (p.name ?? '') === name) ?? (sole ? sameProtocol[0] : undefined);
    if (target?.port === undefined) continue;
    const port: MappedPort = { name, port: target.port, protocol };
    if (apexPort.appProtocol) port.appProtocol = apexPort.appProtocol;
    mapped.push(port);
  }
  return mapped.length > 0 ? mapped : null;
}

/**
 * Apex ports that none of a backend's slices carries (an apex `grpc` over a backup that serves
 * `http` alone, a UDP port over a mirror, which tunnels TCP only): kube-proxy gives callers of
 * such a port no endpoint of that backend, so it is reported. A federation is left out: its
 * planner reports every member whose ports differ already.
 */
function unmappedPorts(
  apexPorts: readonly V1ServicePort[],
  slices: readonly V1EndpointSlice[],
  matching: PortMatching,
): V1ServicePort[] {
  const mapped = new Set(
    portEvidence(slices)
      .flatMap((s) => mapPorts(apexPorts, s, matching) ?? [])
      .map((p) => `${p.name}/${p.protocol}`),
  );
  if (mapped.size === 0) return [];
  return apexPorts.filter((p) => !mapped.has(`${p.name ?? ''}/${p.protocol ?? 'TCP'}`));
}

/**
 * The slices of a backend that tell which ports it serves: its own (not Isthmus's apex slices of
 * it), with an endpoint. A slice without one says nothing about ports: the EndpointSlice controller
 * writes `ports: []`, `endpoints: []` for a Service that selects no pod (a Deployment scaled to 0),
 * and such a backend is simply not ready.
 */
function portEvidence(slices: readonly V1EndpointSlice[]): V1EndpointSlice[] {
  return slices.filter((s) => !isFailoverSlice(s) && (s.endpoints ?? []).length > 0);
}

/**
 * Ready endpoints of a backend that can serve the apex, sorted so choices are stable. Null when
 * its slices name ports and none maps (PortMismatch); a backend with no endpoint at all has none.
 */
function backendCandidates(
  apexPorts: readonly V1ServicePort[],
  slices: readonly V1EndpointSlice[],
  matching: PortMatching,
): Candidate[] | null {
  const out = new Map<string, Candidate>();
  const evidence = portEvidence(slices);
  let anyMapped = evidence.length === 0;
  for (const slice of evidence) {
    const ports = mapPorts(apexPorts, slice, matching);
    if (ports === null) continue;
    anyMapped = true;
    for (const ep of slice.endpoints ?? []) {
      const address = ep.addresses?.[0];
      if (address === undefined || !isReadyEndpoint(ep)) continue;
      const key = `${address}|${JSON.stringify(ports)}`;
      if (!out.has(key)) out.set(key, { address, addressType: slice.addressType, ports });
    }
  }
  if (!anyMapped) return null;
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
}

/**
 * One slice per (address type, port mapping), as an EndpointSlice has one of each, and per
 * MAX_SLICE_ENDPOINTS of them, which the API server refuses to exceed. Cut after the share was
 * chosen: the chunks of a backend list exactly its share's endpoints.
 */
function slicesFor(
  input: ApexPlanInput,
  apex: string,
  backend: string,
  chosen: readonly Candidate[],
): V1EndpointSlice[] {
  const groups = new Map<string, Candidate[]>();
  for (const c of chosen) {
    const key = `${c.addressType}|${JSON.stringify(c.ports)}`;
    const group = groups.get(key);
    if (group) group.push(c);
    else groups.set(key, [c]);
  }
  return [...groups].flatMap(([key, group], index) =>
    sliceChunks(group).map((endpoints, chunk) =>
      apexSlice(
        input,
        apex,
        backend,
        apexSliceName(apex, backend, index === 0 ? undefined : key, chunk),
        endpoints,
      ),
    ),
  );
}

/** `items` in consecutive runs of at most `size`, in order (so each run keeps its name). */
/** One apex slice listing `endpoints`, all of one address type and port mapping. */
function apexSlice(
  input: ApexPlanInput,
  apex: string,
  backend: string,
  name: string,
  endpoints: readonly Candidate[],
): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: input.namespace,
      labels: {
        [SERVICE_NAME_LABEL]: apex,
        ...input.owner.labels,
        [BACKEND_LABEL]: backend,
      },
      ownerReferences: [
        {
          apiVersion: input.owner.apiVersion,
          kind: input.owner.kind,
          name: input.owner.name,
          uid: input.owner.uid,
          controller: true,
        },
      ],
    },
    addressType: endpoints[0]!.addressType,
    ports: endpoints[0]!.ports.map((p) => ({ ...p })),
    // `ready` always explicit: the API reads an absent `ready` as true (DESIGN.md).
    endpoints: endpoints.map((c) => ({
      addresses: [c.address],
      conditions: { ready: true, serving: true, terminating: false },
    })),
  };
}
