/**
 * The garbage collector and the namespace controller, reduced to what their observable effects are
 * (kube-controller-manager `garbagecollector` and `namespace/deletion`): dependents of a deleted
 * owner are deleted (background), orphaned (`orphan` finalizer) or deleted first (`foregroundDeletion`);
 * a Terminating namespace is emptied, then its `kubernetes` finalizer is released.
 * They run synchronously after each store event, so their writes follow the triggering one, and
 * each write is admitted (validating admission policies) as the controller's own user. A refused
 * orphaning keeps the owner (and its `orphan` finalizer) and is retried on later store events, as
 * kube's collector retries its refused patches: a policy may stop refusing, a dependent change.
 */
import { jsonEqual } from '../kube/validation/json-values.js';
import { type AdmissionContext, SYSTEM_USERS } from './admission-policy.js';
import type { Registry } from './registry.js';
import { type ResourceType, resourceKey } from './resource-types.js';
import type { RestOps } from './rest-ops.js';
import type { KObj, ObjectStore, StoreEvent } from './store.js';

const GC: AdmissionContext = { user: SYSTEM_USERS.garbageCollector };
const NAMESPACE_CONTROLLER: AdmissionContext = { user: SYSTEM_USERS.namespaceController };

interface Dependent {
  rt: ResourceType;
  obj: KObj;
}

/** An owner whose orphaning was refused, by uid: where to find it again. */
interface WaitingOwner {
  rt: ResourceType;
  namespace: string | undefined;
  name: string;
}

export class GarbageCollector {
  private readonly orphaning = new Map<string, WaitingOwner>();
  /** Set while retryOrphaning runs: the orphan updates it makes raise store events of their own. */
  private retrying = false;

  constructor(
    private readonly ops: RestOps,
    private readonly store: ObjectStore,
    private readonly registry: Registry,
  ) {}

  onEvent(ev: StoreEvent): void {
    const rt = this.registry.byKey(ev.key);
    if (!rt) return;
    if (this.orphaning.size > 0) this.retryOrphaning(ev.obj.metadata.uid);
    const obj = ev.obj;
    if (ev.type === 'DELETED') {
      this.collectDependentsOf(obj);
      this.recheckForegroundOwners(obj);
      if (obj.metadata.namespace) this.recheckNamespace(obj.metadata.namespace);
      return;
    }
    if (obj.metadata.deletionTimestamp) {
      if (obj.metadata.finalizers?.includes('orphan')) this.orphan(rt, obj);
      else if (obj.metadata.finalizers?.includes('foregroundDeletion')) this.foreground(rt, obj);
      if (rt.group === '' && rt.plural === 'namespaces') this.terminateNamespace(obj.metadata.name!);
    }
    // The real GC sees owner references on every graph change, not only on create: an update that
    // points a dependent at an owner that does not exist (or no longer has that uid) is collected too.
    const refsChanged =
      ev.type === 'ADDED' ||
      (ev.type === 'MODIFIED' &&
        !jsonEqual(ev.prev?.metadata.ownerReferences ?? [], obj.metadata.ownerReferences ?? []));
    if (refsChanged && obj.metadata.ownerReferences?.length && !obj.metadata.deletionTimestamp) {
      this.resolveOwners(rt, obj);
    }
  }

  private dependentsOf(uid: string): Dependent[] {
    const out: Dependent[] = [];
    for (const key of this.store.keys()) {
      const rt = this.registry.byKey(key);
      if (!rt) continue;
      for (const obj of this.store.list(key)) {
        if (obj.metadata.ownerReferences?.some((r) => r.uid === uid)) out.push({ rt, obj });
      }
    }
    return out;
  }

  /** An owner reference resolves when an object of that kind, name and uid exists. */
  private ownerExists(
    dependent: KObj,
    ref: { apiVersion: string; kind: string; name: string; uid: string },
  ): boolean | undefined {
    const group = ref.apiVersion.includes('/') ? ref.apiVersion.split('/')[0]! : '';
    const rt = this.registry.byKind(group, ref.kind);
    if (!rt) return undefined; // unknown kind: the real GC cannot resolve it either and leaves it alone
    const ns = rt.namespaced ? dependent.metadata.namespace : undefined;
    return this.store.get(resourceKey(rt.group, rt.plural), ns, ref.name)?.metadata.uid === ref.uid;
  }

  /**
   * attemptToDeleteItem: with every owner absent the dependent is deleted; with one owner alive,
   * the dangling references are patched away.
   */
  private resolveOwners(rt: ResourceType, obj: KObj): void {
    const refs = obj.metadata.ownerReferences ?? [];
    const states = refs.map((r) => this.ownerExists(obj, r));
    if (states.every((s) => s === false)) {
      this.deleteQuietly(rt, obj);
    } else if (states.some((s) => s === false) && states.some((s) => s === true)) {
      const next = structuredClone(obj);
      next.metadata.ownerReferences = refs.filter((_, i) => states[i] !== false);
      this.updateQuietly(rt, next, obj);
    }
  }

  private collectDependentsOf(owner: KObj): void {
    const uid = owner.metadata.uid;
    if (!uid) return;
    for (const { rt, obj } of this.dependentsOf(uid)) {
      const others = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
      if (others.some((r) => this.ownerExists(obj, r) !== false)) {
        // Other owners are alive: only the dangling reference goes.
        const next = structuredClone(obj);
        next.metadata.ownerReferences = others;
        this.updateQuietly(rt, next, obj);
      } else {
        this.deleteQuietly(rt, obj);
      }
    }
  }

  /**
   * Takes the owner's reference off every dependent, then releases its `orphan` finalizer. Any
   * write refused, the owner stays, waiting for a retry: released with a dependent still
   * pointing at it, the dependent would be collected, what orphaning exists to prevent.
   */
  private orphan(rt: ResourceType, owner: KObj): void {
    const uid = owner.metadata.uid!;
    let refused = false;
    for (const dep of this.dependentsOf(uid)) {
      const next = structuredClone(dep.obj);
      const refs = (next.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
      if (refs.length > 0) next.metadata.ownerReferences = refs;
      else delete next.metadata.ownerReferences;
      if (!this.updateQuietly(dep.rt, next, dep.obj)) refused = true;
    }
    if (!refused) {
      try {
        this.ops.releaseFinalizer(rt, owner, 'orphan', GC);
        this.orphaning.delete(uid);
        return;
      } catch {
        // Refused by admission: retried as a refused dependent's patch is.
      }
    }
    this.orphaning.set(uid, { rt, namespace: owner.metadata.namespace, name: owner.metadata.name! });
  }

  /** Orphans again the owners that wait for it (but `changed`, whose own event does it). */
  private retryOrphaning(changed: string | undefined): void {
    // Not re-entered from the events its own updates raise: the outer pass would go on with
    // snapshots the inner one made stale (a review's finding; it healed on the next event).
    if (this.retrying) return;
    this.retrying = true;
    try {
      this.retryEach(changed);
    } finally {
      this.retrying = false;
    }
  }

  private retryEach(changed: string | undefined): void {
    for (const [uid, { rt, namespace, name }] of [...this.orphaning]) {
      if (uid === changed) continue;
      const owner = this.store.get(resourceKey(rt.group, rt.plural), namespace, name);
      if (
        owner?.metadata.uid === uid &&
        owner.metadata.deletionTimestamp &&
        owner.metadata.finalizers?.includes('orphan')
      )
        this.orphan(rt, owner);
      else this.orphaning.delete(uid);
    }
  }

  private foreground(rt: ResourceType, owner: KObj): void {
    const deps = this.dependentsOf(owner.metadata.uid!);
    for (const dep of deps) {
      if (!dep.obj.metadata.deletionTimestamp) this.deleteQuietly(dep.rt, dep.obj, 'Foreground');
    }
    const blocking = this.dependentsOf(owner.metadata.uid!).filter((d) =>
      d.obj.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid && r.blockOwnerDeletion),
    );
    const current = this.store.get(
      resourceKey(rt.group, rt.plural),
      owner.metadata.namespace,
      owner.metadata.name!,
    );
    if (blocking.length === 0 && current?.metadata.finalizers?.includes('foregroundDeletion')) {
      this.ops.releaseFinalizer(rt, current, 'foregroundDeletion', GC);
    }
  }

  /** A dependent went away: an owner waiting in foreground deletion may now be released. */
  private recheckForegroundOwners(dep: KObj): void {
    for (const ref of dep.metadata.ownerReferences ?? []) {
      const group = ref.apiVersion.includes('/') ? ref.apiVersion.split('/')[0]! : '';
      const rt = this.registry.byKind(group, ref.kind);
      if (!rt) continue;
      const owner = this.store.get(
        resourceKey(rt.group, rt.plural),
        rt.namespaced ? dep.metadata.namespace : undefined,
        ref.name,
      );
      if (
        owner?.metadata.uid === ref.uid &&
        owner.metadata.finalizers?.includes('foregroundDeletion') &&
        owner.metadata.deletionTimestamp
      ) {
        this.foreground(rt, owner);
      }
    }
  }

  private deleteQuietly(
    rt: ResourceType,
    obj: KObj,
    policy: 'Background' | 'Foreground' = 'Background',
    admission = GC,
  ): void {
    try {
      this.ops.delete(rt, obj.metadata.namespace, obj.metadata.name!, {
        propagationPolicy: policy,
        admission,
      });
    } catch {
      // Already gone, immortal or refused by admission: nothing for the collector to do.
    }
  }

  /** The collector's patch of a dependent; false when refused (the object stays as it is). */
  private updateQuietly(rt: ResourceType, next: KObj, old: KObj): boolean {
    try {
      this.ops.controllerUpdate(rt, next, old, GC);
      return true;
    } catch {
      // Refused by admission: the real collector retries.
      return false;
    }
  }

  private namespacedObjects(ns: string): Dependent[] {
    const out: Dependent[] = [];
    for (const key of this.store.keys()) {
      const rt = this.registry.byKey(key);
      if (!rt?.namespaced) continue;
      for (const obj of this.store.list(key, ns)) out.push({ rt, obj });
    }
    return out;
  }

  private terminateNamespace(name: string): void {
    for (const { rt, obj } of this.namespacedObjects(name)) {
      if (!obj.metadata.deletionTimestamp) this.deleteQuietly(rt, obj, 'Background', NAMESPACE_CONTROLLER);
    }
    this.recheckNamespace(name);
  }

  /** Releases the namespace's `kubernetes` finalizer once nothing is left in it. */
  private recheckNamespace(name: string): void {
    const nsRt = this.registry.byKey(resourceKey('', 'namespaces'))!;
    const ns = this.store.get(resourceKey('', 'namespaces'), undefined, name);
    if (!ns?.metadata.deletionTimestamp) return;
    if (this.namespacedObjects(name).length > 0) return;
    const spec = (ns.spec ?? {}) as { finalizers?: string[] };
    if (!spec.finalizers?.includes('kubernetes')) return;
    const next = structuredClone(ns);
    next.spec = { ...spec, finalizers: spec.finalizers.filter((f) => f !== 'kubernetes') };
    // The namespace controller finalizes through namespaces/<name>/finalize.
    this.ops.admit(nsRt, 'v1', 'UPDATE', next, ns, {
      admission: NAMESPACE_CONTROLLER,
      subresource: 'finalize',
    });
    if (
      (next.metadata.finalizers ?? []).length === 0 &&
      (next.spec as { finalizers: string[] }).finalizers.length === 0
    ) {
      this.ops.removeNow(nsRt, next);
    } else {
      this.store.put(resourceKey('', 'namespaces'), next);
    }
  }
}
