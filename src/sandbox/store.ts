/**
 * The sandbox's etcd: objects by resource and `namespace/name`, one monotonic resourceVersion for
 * the whole server, and a bounded log of change events. Watches replay from the log; when an event
 * falls out of the window its resourceVersion is "compacted" and older watches/continue tokens get
 * 410 Gone, as kube-apiserver's watch cache does.
 */
import { expired } from './api-status.js';

export type KObj = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata: ObjMeta;
};

export interface ObjMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: Array<{
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    blockOwnerDeletion?: boolean;
    controller?: boolean;
  }>;
  [k: string]: unknown;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  rv: number;
  type: EventType;
  /** resourceKey(group, plural) */
  key: string;
  obj: KObj;
  /** The object before this change (MODIFIED, DELETED). */
  prev: KObj | undefined;
}

export interface SortedObjects {
  keys: readonly string[];
  objects: readonly KObj[];
}

/** The store as it was at one resourceVersion (an etcd snapshot); opaque to its holders. */
export interface StoreSnapshot {
  readonly rv: number;
  readonly objects: ReadonlyMap<string, ReadonlyMap<string, KObj>>;
}

export function objKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class ObjectStore {
  private rv: number;
  private objects = new Map<string, Map<string, KObj>>();
  /** Per resource, its objects in key order; dropped on every write of that resource. */
  private readonly sorted = new Map<string, SortedObjects>();
  private readonly log: StoreEvent[] = [];
  /** Every event with rv <= compactedRv is gone from the log. */
  private compacted: number;
  private readonly listeners = new Set<(ev: StoreEvent) => void>();
  private readonly pending: StoreEvent[] = [];
  private dispatching = false;

  constructor(private readonly window: number) {
    // Start above 1 so that "0" (any version) and small numbers never look like real versions.
    this.rv = 100;
    this.compacted = this.rv;
  }

  currentRv(): number {
    return this.rv;
  }

  compactedRv(): number {
    return this.compacted;
  }

  get(key: string, namespace: string | undefined, name: string): KObj | undefined {
    return this.objects.get(key)?.get(objKey(namespace, name));
  }

  /** Current objects of a resource (optionally one namespace), sorted by namespace/name like etcd keys. */
  list(key: string, namespace?: string): KObj[] {
    const all = this.sortedOf(key).objects;
    return namespace === undefined ? all.slice() : all.filter((o) => o.metadata.namespace === namespace);
  }

  /**
   * The objects of a resource in key order and their keys, shared until the next write of that
   * resource (the watch cache's sorted snapshot): a paged list reads it once per page without a
   * re-sort. Callers must not modify it.
   */
  sortedOf(key: string): SortedObjects {
    let s = this.sorted.get(key);
    if (!s) {
      const entries = sortByKey(this.entries(key));
      s = { keys: entries.map(([k]) => k), objects: entries.map(([, o]) => o) };
      this.sorted.set(key, s);
    }
    return s;
  }

  /** True when no event of the resource is newer than `rv` (its current state is its state at rv). */
  unchangedSince(key: string, rv: number): boolean {
    for (let i = this.log.length - 1; i >= 0 && this.log[i]!.rv > rv; i--)
      if (this.log[i]!.key === key) return false;
    return true;
  }

  private entries(key: string, namespace?: string): Array<[string, KObj]> {
    const m = this.objects.get(key);
    if (!m) return [];
    const out: Array<[string, KObj]> = [];
    for (const [k, o] of m)
      if (namespace === undefined || o.metadata.namespace === namespace) out.push([k, o]);
    return out;
  }

  /** Every resource key that currently holds objects. */
  keys(): string[] {
    return [...this.objects.keys()];
  }

  /**
   * The objects of a resource as they were at `rv`, rebuilt by undoing newer events: a continued
   * list reads one consistent snapshot, as etcd's MVCC read does. Throws 410 when rv is compacted.
   */
  snapshotAt(key: string, rv: number, namespace?: string): KObj[] {
    if (rv < this.compacted) throw expired(tooOldMessage(rv, this.compacted));
    const m = new Map(this.entries(key, namespace));
    for (let i = this.log.length - 1; i >= 0; i--) {
      const ev = this.log[i]!;
      if (ev.rv <= rv) break;
      if (ev.key !== key) continue;
      const o = ev.type === 'ADDED' ? ev.obj : ev.prev!;
      if (namespace !== undefined && o.metadata.namespace !== namespace) continue;
      const k = objKey(o.metadata.namespace, o.metadata.name!);
      if (ev.type === 'ADDED') m.delete(k);
      else m.set(k, ev.prev!);
    }
    return sortByKey([...m]).map(([, o]) => o);
  }

  /** Writes an object (create or replace), stamping a fresh resourceVersion. Returns the stored copy. */
  put(key: string, obj: KObj): KObj {
    const m = this.objects.get(key) ?? new Map<string, KObj>();
    this.objects.set(key, m);
    const k = objKey(obj.metadata.namespace, obj.metadata.name!);
    const prev = m.get(k);
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    m.set(k, stored);
    this.sorted.delete(key);
    this.append({ rv: this.rv, type: prev ? 'MODIFIED' : 'ADDED', key, obj: stored, prev });
    return stored;
  }

  /** Removes an object; the DELETED event carries it with the deletion's resourceVersion. */
  remove(key: string, namespace: string | undefined, name: string): KObj | undefined {
    const m = this.objects.get(key);
    const k = objKey(namespace, name);
    const prev = m?.get(k);
    if (!m || !prev) return undefined;
    m.delete(k);
    this.sorted.delete(key);
    if (m.size === 0) this.objects.delete(key);
    const gone = structuredClone(prev);
    gone.metadata.resourceVersion = String(++this.rv);
    this.append({ rv: this.rv, type: 'DELETED', key, obj: gone, prev });
    return gone;
  }

  /** Events of one resource newer than `rv`; 410 Expired when some of them were compacted away. */
  eventsSince(key: string, rv: number): StoreEvent[] {
    if (rv < this.compacted) throw expired(tooOldMessage(rv, this.compacted));
    const out: StoreEvent[] = [];
    for (const ev of this.log) if (ev.rv > rv && ev.key === key) out.push(ev);
    return out;
  }

  snapshot(): StoreSnapshot {
    return { rv: this.rv, objects: structuredClone(this.objects) };
  }

  /**
   * Puts the store back to `snap`, as an etcd restore and the API server restart after it: objects
   * keep the resourceVersions they had then. Without `bumpRevision` the next write reuses versions
   * the lost history had; with it (etcdutl --bump-revision N) the revision jumps N past the
   * snapshot's. Either way the restarted server's watch cache starts at the restored revision, so
   * watches and continue tokens from older versions get 410 (what --mark-compacted adds in etcd).
   * No events: a restore is not a write.
   */
  restore(snap: StoreSnapshot, bumpRevision = 0): void {
    this.objects = structuredClone(snap.objects) as Map<string, Map<string, KObj>>;
    this.sorted.clear();
    this.log.length = 0;
    this.rv = snap.rv + Math.max(0, Math.floor(bumpRevision));
    this.compacted = this.rv;
  }

  subscribe(fn: (ev: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private append(ev: StoreEvent): void {
    this.log.push(ev);
    while (this.log.length > this.window) this.compacted = this.log.shift()!.rv;
    // Listeners may write (controllers do); their events queue behind this one so that every
    // listener sees every event in resourceVersion order.
    this.pending.push(ev);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        for (const fn of [...this.listeners]) fn(next);
      }
    } finally {
      this.dispatching = false;
    }
  }
}

/** kube-apiserver's watch cache wording (storage/cacher: "too old resource version: %d (%d)"). */
export function tooOldMessage(requested: number, oldest: number): string {
  return `too old resource version: ${requested} (${oldest + 1})`;
}

function sortByKey(entries: Array<[string, KObj]>): Array<[string, KObj]> {
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
