/**
 * One WatchSource over two informers of the same resource with different label selectors: the
 * ingress admits exported Services and federated members alike, and a label selector cannot say
 * "a=x or b=y". An object is in the union while either cache holds it.
 */
import type { WatchSource } from './watch-exports.js';

type Named = { metadata?: { namespace?: string; name?: string } };
type WatchEvent<T> = { type: 'add' | 'update' | 'delete'; object: T };

/**
 * Each event is checked against the other cache, so leaving one set while still in the other is
 * an `update`, and only leaving both is a `delete`. When both hold an object, `first`'s copy wins;
 * if it lags behind, its own coming event brings the newer one, so a level-triggered consumer that
 * re-reads `get` converges.
 */
export function unionSource<T extends Named>(first: WatchSource<T>, second: WatchSource<T>): WatchSource<T> {
  const get = (namespace: string | undefined, name: string): T | undefined =>
    first.get(namespace, name) ?? second.get(namespace, name);

  const list = (): T[] => {
    const byKey = new Map<string, T>();
    for (const object of [...first.list(), ...second.list()]) {
      const key = `${object.metadata?.namespace}/${object.metadata?.name}`;
      if (!byKey.has(key)) byKey.set(key, object);
    }
    return [...byKey.values()];
  };

  const onEvent = (listener: (event: WatchEvent<T>) => void): (() => void) => {
    const relay =
      (other: WatchSource<T>) =>
      (event: WatchEvent<T>): void => {
        const { namespace, name } = event.object.metadata ?? {};
        const held = name === undefined ? undefined : other.get(namespace, name);
        if (held === undefined || name === undefined) listener(event);
        else listener({ type: 'update', object: get(namespace, name) ?? held });
      };
    const offFirst = first.onEvent(relay(second));
    const offSecond = second.onEvent(relay(first));
    return () => {
      offFirst();
      offSecond();
    };
  };

  return { list, get, onEvent };
}
