/**
 * "Compare only the fields you own" (house style 5): the API server defaults clusterIP,
 * sessionAffinity, ipFamilies, targetPort, ...; a deep compare against that would update forever.
 * These functions look at what buildMirrorService / buildMirrorSlice set and nothing else.
 */
import { EGRESS_PORTS_ANNOTATION, REMOTE_SVC_FQ_NAME_ANNOTATION } from '../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';

function sameMap(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ea = Object.entries(a ?? {});
  if (ea.length !== Object.keys(b ?? {}).length) return false;
  return ea.every(([k, v]) => b?.[k] === v);
}

function portsKey(ports: { name?: string; port?: number; protocol?: string; targetPort?: unknown }[] = []) {
  return JSON.stringify(
    ports.map((p) => [
      p.name ?? '',
      p.port ?? 0,
      p.protocol ?? 'TCP',
      // The API server defaults an absent targetPort to the port: compare with what it will store.
      String(p.targetPort ?? p.port ?? 0),
    ]),
  );
}

export function serviceDiffers(existing: V1Service, desired: V1Service): boolean {
  if (!sameMap(existing.metadata?.labels, desired.metadata?.labels)) return true;
  if (!sameMap(existing.metadata?.annotations, desired.metadata?.annotations)) return true;
  // clusterIP is immutable: headless-ness is compared so that a change is seen (it needs a re-create).
  if ((existing.spec?.clusterIP === 'None') !== (desired.spec?.clusterIP === 'None')) return true;
  if (familyChanged(existing, desired)) return true;
  return portsKey(existing.spec?.ports) !== portsKey(desired.spec?.ports);
}

/** A family the mirror asks for explicitly (remote discovery) that the existing one lacks as primary. */
function familyChanged(existing: V1Service, desired: V1Service): boolean {
  const wanted = desired.spec?.ipFamilies?.[0];
  return wanted !== undefined && existing.spec?.ipFamilies?.[0] !== wanted;
}

/**
 * True when the headless-ness or the primary IP family changed: neither clusterIP nor the primary
 * family can be updated in place (API validation).
 */
export function serviceNeedsRecreate(existing: V1Service, desired: V1Service): boolean {
  return (
    (existing.spec?.clusterIP === 'None') !== (desired.spec?.clusterIP === 'None') ||
    familyChanged(existing, desired)
  );
}

export function sliceDiffers(existing: V1EndpointSlice, desired: V1EndpointSlice): boolean {
  if (!sameMap(existing.metadata?.labels, desired.metadata?.labels)) return true;
  if (existing.addressType !== desired.addressType) return true;
  const endpoints = (s: V1EndpointSlice) =>
    JSON.stringify(
      (s.endpoints ?? []).map((e) => [
        e.addresses,
        e.conditions?.ready ?? null,
        e.conditions?.serving ?? null,
        e.conditions?.terminating ?? null,
        e.hostname ?? null,
      ]),
    );
  if (endpoints(existing) !== endpoints(desired)) return true;
  const ports = (s: V1EndpointSlice) =>
    JSON.stringify(
      (s.ports ?? []).map((p) => [p.name ?? '', p.port ?? null, p.protocol ?? 'TCP', p.appProtocol ?? null]),
    );
  if (ports(existing) !== ports(desired)) return true;
  for (const key of SLICE_ANNOTATIONS)
    if (existing.metadata?.annotations?.[key] !== desired.metadata?.annotations?.[key]) return true;
  const owner = (s: V1EndpointSlice) => s.metadata?.ownerReferences?.[0]?.uid;
  return owner(desired) !== undefined && owner(existing) !== owner(desired);
}

/**
 * The annotations a gateway mirror's slice owns (buildMirrorSlice): the remote name its egress
 * ports lead to, and every egress port the mirror was given (listed in `ports` or not yet).
 */
const SLICE_ANNOTATIONS = [REMOTE_SVC_FQ_NAME_ANNOTATION, EGRESS_PORTS_ANNOTATION] as const;

/** The desired object laid over the stored one: keeps server-owned fields (clusterIP, resourceVersion). */
export function mergeService(existing: V1Service, desired: V1Service): V1Service {
  return {
    ...existing,
    metadata: {
      ...existing.metadata,
      labels: desired.metadata?.labels ?? {},
      annotations: desired.metadata?.annotations ?? {},
    },
    spec: { ...existing.spec, ports: desired.spec?.ports ?? [] },
  };
}

export function mergeSlice(existing: V1EndpointSlice, desired: V1EndpointSlice): V1EndpointSlice {
  return {
    ...existing,
    metadata: {
      ...existing.metadata,
      labels: desired.metadata?.labels ?? {},
      annotations: withOwnAnnotations(existing.metadata?.annotations, desired.metadata?.annotations),
      ownerReferences: desired.metadata?.ownerReferences ?? existing.metadata?.ownerReferences ?? [],
    },
    addressType: desired.addressType,
    endpoints: desired.endpoints,
    ports: desired.ports ?? [],
  };
}

/** `existing` with the slice's own annotations as `desired` has them (set or removed). Others are kept. */
function withOwnAnnotations(
  existing: Record<string, string> | undefined,
  desired: Record<string, string> | undefined,
): Record<string, string> {
  const out = { ...existing };
  for (const key of SLICE_ANNOTATIONS) {
    const value = desired?.[key];
    if (value === undefined) delete out[key];
    else out[key] = value;
  }
  return out;
}
