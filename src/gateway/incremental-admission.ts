/**
 * `admitRoutes`, redone for only what changed since the last pass: the mirror watcher runs a pass
 * on the gateway's event loop, which also accepts and pipes every tunnel, and with thousands of
 * mirrors a full pass costs tens of milliseconds. Each Service and slice is parsed once per object
 * (an informer replaces an object that changes, never edits it), each mirror judged again only
 * when its Service, its slices' vouching or the Links changed, and only the claims are weighed
 * again on every pass (`resolveClaims`, cheap). The result is exactly the full pass's
 * (incremental-admission.test.ts compares them over random event sequences).
 *
 * It also tells the watcher whether an event changes anything admission reads (`changes*`): the
 * controller rewrites a mirror's slice on every endpoint or readiness change, and a resync
 * re-emits everything, while only a slice's ports, egress-ports annotation and remote name count.
 */
import { sliceKeyOf, vouchedNames, vouchedPorts } from '../kube/linkerd-mirror.js';
import type { Link, V1EndpointSlice, V1Service } from '../kube/types.js';
import {
  type AdmissionContext,
  type AdmittedMirror,
  type AdmittedRoutes,
  admissionContext,
  byAge,
  type EgressPortRange,
  type JudgedMirror,
  judgeMirror,
  type ParsedMirror,
  parseMirror,
  resolveClaims,
} from './mirror-admission.js';
import { linkedClusters } from './peers.js';
import { linkedGateways } from './probe-targets.js';

/** What one slice vouches for: all that admission reads of it. */
interface ParsedSlice {
  /** `namespace/name` of the slice. */
  key: string;
  /** `namespace/service` it vouches for; undefined when it is not the mirror controller's. */
  mirror: string | undefined;
  ports: ReadonlySet<number>;
  name: string | undefined;
  fingerprint: string;
}

interface ParsedService extends ParsedMirror {
  fingerprint: string;
}

/** A judgement and what it was made from: reused while all of it is the same. */
interface Judgement {
  mirror: ParsedService;
  context: AdmissionContext;
  vouched: ReadonlySet<number> | undefined;
  name: string | undefined;
  judged: JudgedMirror;
}

export interface AdmissionInputs {
  services: readonly V1Service[];
  slices: readonly V1EndpointSlice[];
  links: readonly Link[];
}

export interface IncrementalAdmission {
  /** `admitRoutes` of the inputs, with the last call's `admitted` as `previous`. */
  admit(inputs: AdmissionInputs): AdmittedRoutes;
  /** Whether this Service (undefined: it is gone) differs from the last pass's in what admission reads. */
  changesService(key: string, svc: V1Service | undefined): boolean;
  /** The same for a slice (`namespace/name` of the slice). */
  changesSlice(key: string, slice: V1EndpointSlice | undefined): boolean;
  /** Whether the Links name other clusters or gateways than at the last pass. */
  changesLinks(links: readonly Link[]): boolean;
}

export function incrementalAdmission(egressRange: EgressPortRange): IncrementalAdmission {
  const services = new WeakMap<V1Service, ParsedService>();
  const slices = new WeakMap<V1EndpointSlice, ParsedSlice>();
  const parseService = (svc: V1Service): ParsedService => {
    let p = services.get(svc);
    if (p === undefined) {
      const m = parseMirror(svc);
      p = { ...m, fingerprint: JSON.stringify([m.uid, m.created, m.claimedName, m.parsed]) };
      services.set(svc, p);
    }
    return p;
  };
  const parseSlice = (slice: V1EndpointSlice): ParsedSlice => {
    let p = slices.get(slice);
    if (p === undefined) {
      p = sliceOf(slice);
      slices.set(slice, p);
    }
    return p;
  };

  let linksFingerprint: string | undefined;
  let context: AdmissionContext | undefined;
  let lastSlices: ParsedSlice[] = [];
  const slicesByKey = new Map<string, ParsedSlice>();
  const vouched = new Map<string, ReadonlySet<number>>();
  const names = new Map<string, string>();
  let lastServices: ParsedService[] = [];
  const servicesByKey = new Map<string, ParsedService>();
  let sorted: ParsedService[] = [];
  const judgements = new Map<string, Judgement>();
  let previous: ReadonlyMap<string, AdmittedMirror> = new Map();
  let last: { judged: JudgedMirror[]; result: AdmittedRoutes } | undefined;

  /** Re-derives the vouching of the mirrors whose slices changed; names by slice key, as `vouchedNames` does. */
  const updateSlices = (current: ParsedSlice[]): void => {
    const { gone, added } = difference(lastSlices, current);
    const touched = new Set<string>();
    for (const s of gone) {
      if (s.mirror !== undefined) touched.add(s.mirror);
      if (slicesByKey.get(s.key) === s) slicesByKey.delete(s.key);
    }
    for (const s of added) {
      if (s.mirror !== undefined) touched.add(s.mirror);
      slicesByKey.set(s.key, s);
    }
    if (touched.size === 0) return;
    const own = current
      .filter((s) => s.mirror !== undefined && touched.has(s.mirror))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const mirror of touched) {
      vouched.delete(mirror);
      names.delete(mirror);
    }
    for (const s of own) {
      const mirror = s.mirror as string;
      vouched.set(mirror, new Set([...(vouched.get(mirror) ?? []), ...s.ports]));
      if (s.name !== undefined) names.set(mirror, s.name);
    }
  };

  const updateServices = (current: ParsedService[]): void => {
    const { gone, added } = difference(lastServices, current);
    for (const s of gone) if (servicesByKey.get(s.key) === s) servicesByKey.delete(s.key);
    for (const s of added) servicesByKey.set(s.key, s);
    for (const key of judgements.keys()) if (!servicesByKey.has(key)) judgements.delete(key);
    sorted = [...current].sort(byAge);
  };

  return {
    admit({ services: svcs, slices: sls, links }) {
      const fingerprint = linksFingerprintOf(links);
      if (context === undefined || fingerprint !== linksFingerprint) {
        context = admissionContext(links, egressRange);
        linksFingerprint = fingerprint;
      }
      const currentSlices = sls.map(parseSlice);
      if (!sameItems(lastSlices, currentSlices)) updateSlices(currentSlices);
      lastSlices = currentSlices;
      const currentServices = svcs.map(parseService);
      if (!sameItems(lastServices, currentServices)) updateServices(currentServices);
      lastServices = currentServices;

      const judged: JudgedMirror[] = [];
      for (const mirror of sorted) {
        const v = vouched.get(mirror.key);
        const name = names.get(mirror.key);
        let j = judgements.get(mirror.key);
        if (
          j === undefined ||
          j.mirror !== mirror ||
          j.context !== context ||
          j.vouched !== v ||
          j.name !== name
        ) {
          j = { mirror, context, vouched: v, name, judged: judgeMirror(mirror, context, v, name) };
          judgements.set(mirror.key, j);
        }
        judged.push(j.judged);
      }
      // Nothing judged otherwise: the claims weigh as they did (a pass's result, with itself as
      // `previous`, is itself), as after a retry of an apply or a refresh.
      if (last !== undefined && sameItems(judged, last.judged)) return last.result;
      const result = resolveClaims(judged, previous);
      previous = result.admitted;
      last = { judged, result };
      return result;
    },
    changesService: (key, svc) =>
      claimOf(svc === undefined ? undefined : parseService(svc)) !== claimOf(servicesByKey.get(key)),
    changesSlice: (key, slice) =>
      vouchingOf(slice === undefined ? undefined : parseSlice(slice)) !== vouchingOf(slicesByKey.get(key)),
    changesLinks: (links) => linksFingerprintOf(links) !== linksFingerprint,
  };
}

/** A Service that claims nothing weighs as much as no Service (`routesFromMirror`). */
function claimOf(s: ParsedService | undefined): string | undefined {
  return s === undefined || s.parsed.routes.length + s.parsed.problems.length === 0
    ? undefined
    : s.fingerprint;
}

/** A slice that vouches for no mirror weighs as much as no slice. */
function vouchingOf(s: ParsedSlice | undefined): string | undefined {
  return s?.mirror === undefined ? undefined : s.fingerprint;
}

function sliceOf(slice: V1EndpointSlice): ParsedSlice {
  const key = sliceKeyOf(slice);
  // The shared readers, one slice at a time: what a slice vouches for is theirs to say.
  const [entry] = vouchedPorts([slice]);
  const mirror = entry?.[0];
  const ports = entry?.[1] ?? new Set<number>();
  const name = mirror === undefined ? undefined : vouchedNames([slice]).get(mirror);
  const fingerprint = JSON.stringify([mirror, [...ports].sort((a, b) => a - b), name]);
  return { key, mirror, ports, name, fingerprint };
}

/** All that admission reads of the Links: the clusters they stand for, the gateways they name. */
function linksFingerprintOf(links: readonly Link[]): string {
  const gateways = [...linkedGateways(links)].map(([gw, clusters]) => [gw, [...clusters].sort()]).sort();
  return JSON.stringify([[...linkedClusters(links)].sort(), gateways]);
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * What left and what came between two lists of unique items. An informer's list keeps an updated
 * object's place, so the lists mostly differ in a few places: an item at a differing place of one
 * list is in the other only at one of its differing places, and those are few.
 */
export function difference<T>(before: readonly T[], after: readonly T[]): { gone: T[]; added: T[] } {
  const n = Math.min(before.length, after.length);
  const was = new Set<T>(before.slice(n));
  const is = new Set<T>(after.slice(n));
  for (let i = 0; i < n; i++) {
    if (before[i] === after[i]) continue;
    was.add(before[i] as T);
    is.add(after[i] as T);
  }
  return { gone: [...was].filter((x) => !is.has(x)), added: [...is].filter((x) => !was.has(x)) };
}
