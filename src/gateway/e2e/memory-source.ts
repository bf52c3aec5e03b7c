/**
 * A minimal in-memory stand-in for src/kube's Informer in unit tests: a cache plus synchronous
 * events, so a test steps a watcher without an API server.
 */
import type { WatchSource } from '../watch-exports.js';

type Named = { metadata?: { namespace?: string; name?: string } };
type Listener<T> = (ev: { type: 'add' | 'update' | 'delete'; object: T }) => void;

export class MemorySource<T extends Named> implements WatchSource<T> {
  private readonly items = new Map<string, T>();
  private readonly listeners = new Set<Listener<T>>();
  list(): T[] {
    return [...this.items.values()];
  }
  get(namespace: string | undefined, name: string): T | undefined {
    return this.items.get(`${namespace}/${name}`);
  }
  onEvent(listener: Listener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  put(object: T): void {
    const key = `${object.metadata?.namespace}/${object.metadata?.name}`;
    const type = this.items.has(key) ? 'update' : 'add';
    this.items.set(key, object);
    for (const l of this.listeners) l({ type, object });
  }
  remove(object: T): void {
    this.items.delete(`${object.metadata?.namespace}/${object.metadata?.name}`);
    for (const l of this.listeners) l({ type: 'delete', object });
  }
}
