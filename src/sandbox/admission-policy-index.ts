/**
 * The ValidatingAdmissionPolicies that can apply to a resource, kept by (group, resource) and
 * rebuilt only after a policy or binding changes, so that a write with no policy about it costs a
 * map lookup. A policy is compiled once per generation; a binding whose policy does not exist,
 * and a policy without a binding, are left out (they do nothing, as in kube-apiserver).
 */
import { type CompiledPolicy, compilePolicy } from './admission-policy-cel.js';
import { indexKeysOf } from './admission-policy-match.js';
import { resourceKey } from './resource-types.js';
import type { KObj, ObjectStore, StoreEvent } from './store.js';

export const POLICIES = resourceKey('admissionregistration.k8s.io', 'validatingadmissionpolicies');
export const BINDINGS = resourceKey('admissionregistration.k8s.io', 'validatingadmissionpolicybindings');

export interface BoundPolicy {
  policy: CompiledPolicy;
  /** By name, as a stable order for the first denial. */
  bindings: KObj[];
}

const NONE: readonly BoundPolicy[] = Object.freeze([]);

const byName = (a: { metadata: { name?: string } }, b: { metadata: { name?: string } }) =>
  (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');

export class PolicyIndex {
  private stale = true;
  private readonly byResource = new Map<string, BoundPolicy[]>();
  private wildcard: BoundPolicy[] = [];
  /** policy name → its compiled form and the uid/generation it was compiled from. */
  private readonly compiled = new Map<string, { version: string; policy: CompiledPolicy }>();

  constructor(private readonly store: ObjectStore) {}

  onEvent(ev: StoreEvent): void {
    if (ev.key === POLICIES || ev.key === BINDINGS) this.stale = true;
  }

  /** The store was replaced without events (an etcd restore): rebuilt from it on the next write. */
  invalidate(): void {
    this.stale = true;
  }

  /** The bound policies whose rules name this group and resource (or any), by policy name. */
  candidates(group: string, resource: string): readonly BoundPolicy[] {
    if (this.stale) this.rebuild();
    // The common case, no bound policy at all: no key built, nothing allocated.
    if (this.byResource.size === 0 && this.wildcard.length === 0) return NONE;
    const exact = this.byResource.get(`${group}/${resource}`);
    if (this.wildcard.length === 0) return exact ?? NONE;
    if (!exact) return this.wildcard;
    return [...exact, ...this.wildcard].sort((a, b) => a.policy.name.localeCompare(b.policy.name));
  }

  private compile(policy: KObj): CompiledPolicy {
    const name = policy.metadata.name!;
    const version = `${policy.metadata.uid}/${policy.metadata.generation ?? policy.metadata.resourceVersion}`;
    const cached = this.compiled.get(name);
    if (cached?.version === version) return cached.policy;
    const compiled = compilePolicy(policy);
    this.compiled.set(name, { version, policy: compiled });
    return compiled;
  }

  private rebuild(): void {
    this.stale = false;
    this.byResource.clear();
    this.wildcard = [];
    const bindings = new Map<string, KObj[]>();
    for (const b of this.store.list(BINDINGS)) {
      const policyName = (b.spec as { policyName?: string } | undefined)?.policyName ?? '';
      bindings.set(policyName, [...(bindings.get(policyName) ?? []), b]);
    }
    const live = new Set<string>();
    for (const p of [...this.store.list(POLICIES)].sort(byName)) {
      const bound = bindings.get(p.metadata.name!);
      if (!bound) continue;
      live.add(p.metadata.name!);
      const entry: BoundPolicy = { policy: this.compile(p), bindings: bound.sort(byName) };
      const keys = indexKeysOf((p.spec as { matchConstraints?: unknown } | undefined)?.matchConstraints);
      if (keys === undefined) this.wildcard.push(entry);
      else
        for (const key of new Set(keys))
          this.byResource.set(key, [...(this.byResource.get(key) ?? []), entry]);
    }
    for (const name of this.compiled.keys()) if (!live.has(name)) this.compiled.delete(name);
  }
}
