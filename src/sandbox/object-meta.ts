/**
 * Small helpers on stored objects shared by the write path and the controllers: timestamps in
 * kube's RFC 3339 seconds format, generated names, apiVersion rewriting between served versions.
 */
import { randomInt } from 'node:crypto';
import type { ResourceType } from './resource-types.js';
import { apiVersionOf } from './resource-types.js';
import type { KObj } from './store.js';

/** metav1.Time marshals with second precision. */
export function kubeNow(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** names.SimpleNameGenerator: five characters from an alphabet without vowels or confusables. */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
export function generateName(prefix: string): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  // maxGeneratedNameLength = 63 - 5: the prefix is cut so the whole name stays a valid label.
  return prefix.slice(0, 58) + s;
}

/** The object as served at `version` (CRD conversion strategy None rewrites apiVersion only). */
export function asServed(rt: ResourceType, obj: KObj, version: string): KObj {
  const out = structuredClone(obj);
  out.apiVersion = apiVersionOf(rt.group, version);
  out.kind = rt.kind;
  return out;
}

/**
 * The same for an answer that is serialized at once: a shallow copy, whose nested parts are the
 * stored object's (read-only). A deep copy per answer was a tenth of a write's cost.
 */
export function servedView(rt: ResourceType, obj: KObj, version: string): KObj {
  return { ...obj, apiVersion: apiVersionOf(rt.group, version), kind: rt.kind };
}

/** The object as stored (storage version). */
export function asStored(rt: ResourceType, obj: KObj): KObj {
  obj.apiVersion = apiVersionOf(rt.group, rt.storageVersion);
  obj.kind = rt.kind;
  return obj;
}

/** Everything but metadata and status: what a generation bump compares. */
export function specPart(obj: KObj): Record<string, unknown> {
  const { metadata: _m, status: _s, resourceVersion: _r, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

export function withoutFinalizer(obj: KObj, f: string): KObj {
  const out = structuredClone(obj);
  const left = (out.metadata.finalizers ?? []).filter((x) => x !== f);
  if (left.length > 0) out.metadata.finalizers = left;
  else delete out.metadata.finalizers;
  return out;
}
