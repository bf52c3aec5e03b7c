/**
 * The set of resources currently served: the built-ins plus one entry per established CRD. Every
 * lookup the router and discovery make goes through here, so a CRD becomes visible (and vanishes)
 * in one place.
 */
import { BUILTIN_TYPES, type ResourceType, resourceKey } from './resource-types.js';

export interface GroupInfo {
  name: string;
  versions: string[];
  preferred: string;
}

export class Registry {
  private readonly types = new Map<string, ResourceType>();

  constructor() {
    for (const rt of BUILTIN_TYPES) this.types.set(resourceKey(rt.group, rt.plural), rt);
  }

  add(rt: ResourceType): void {
    this.types.set(resourceKey(rt.group, rt.plural), rt);
  }

  remove(group: string, plural: string): void {
    this.types.delete(resourceKey(group, plural));
  }

  byKey(key: string): ResourceType | undefined {
    return this.types.get(key);
  }

  /** The type served at /apis/<group>/<version>/<plural>, if that version is served. */
  find(group: string, version: string, plural: string): ResourceType | undefined {
    const rt = this.types.get(resourceKey(group, plural));
    return rt?.versions.includes(version) ? rt : undefined;
  }

  /** Resolves an apiVersion/kind pair (ownerReferences, TokenReview-free lookups). */
  byKind(group: string, kind: string): ResourceType | undefined {
    for (const rt of this.types.values()) if (rt.group === group && rt.kind === kind) return rt;
    return undefined;
  }

  all(): ResourceType[] {
    return [...this.types.values()];
  }

  inGroupVersion(group: string, version: string): ResourceType[] {
    return this.all().filter((rt) => rt.group === group && rt.versions.includes(version));
  }

  /** Groups other than the legacy core group, built-ins first, in registration order. */
  groups(): GroupInfo[] {
    const out = new Map<string, GroupInfo>();
    for (const rt of this.types.values()) {
      if (rt.group === '') continue;
      const g = out.get(rt.group) ?? { name: rt.group, versions: [], preferred: rt.storageVersion };
      for (const v of rt.versions) if (!g.versions.includes(v)) g.versions.push(v);
      out.set(rt.group, g);
    }
    for (const g of out.values()) g.versions.sort(compareKubeVersions);
    for (const g of out.values()) g.preferred = g.versions[0]!;
    return [...out.values()];
  }
}

/**
 * Kubernetes version priority (apimachinery version.CompareKubeAwareVersionStrings): GA > beta >
 * alpha, higher numbers first, non-kube-like strings last alphabetically.
 */
export function compareKubeVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number, string] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0, v];
    const stage = m[2] === undefined ? 0 : m[2] === 'beta' ? 1 : 2;
    return [stage, -Number(m[1]), -Number(m[3] ?? 0), v];
  };
  const ra = rank(a);
  const rb = rank(b);
  for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return (ra[i] as number) - (rb[i] as number);
  return ra[3] < rb[3] ? -1 : ra[3] > rb[3] ? 1 : 0;
}
