/**
 * Which of one Link's remote keys a change in this cluster asks to sync again: a mirror's own
 * events, its slices', a namespace made or deleted, the local gateways' addresses or ports, the
 * leadership. The LinkWatcher subscribes through this at start; what a change asks for is decided
 * by pure functions (remoteKeyOf, sliceRemoteKey, listeningKeys).
 */
import { objectKey } from '../kube/informer-store.js';
import type { V1Service } from '../kube/types.js';
import type { BlockedKeys } from './blocked-keys.js';
import { remoteKeyOf } from './mirror-sync.js';
import { parseOwner } from './port-allocator.js';
import type { SharedLocal } from './shared.js';
import { sliceRemoteKey } from './slice-event-key.js';

export interface LocalEventsDeps {
  cluster(): string;
  /** The local Services that block a key's mirror name (blocked-keys.ts). */
  blocked: BlockedKeys;
  /** Queues a remote key for a sync. */
  sync(key: string): void;
  /** The remote keys of `namespace` the connection lists now. */
  remoteKeys(namespace: string | undefined): readonly string[];
  /** Queues every key that may need work. */
  syncAll(): void;
  /** This process is no longer the leader. */
  steppedDown(): void;
}

/** Subscribes to the local changes that concern the Link; returns the unsubscribers. */
export function watchLocal(shared: SharedLocal, deps: LocalEventsDeps): (() => void)[] {
  const { cluster, sync } = deps;
  return [
    // Our own writes come back as events; their echoes need no sync (own-writes.ts).
    shared.services.onEvent((e) => {
      // A name freed: the keys it kept out of their mirror name (a Conflict) may take it now.
      if (e.type === 'delete') for (const k of deps.blocked.freed(objectKey(e.object))) sync(k);
      const key = remoteKeyOf(e.object, cluster());
      if (key && !shared.ownWrites?.isEcho('Service', e, () => sync(key))) sync(key);
    }),
    shared.slices.onEvent((e) => {
      const key = sliceRemoteKey(e.object, (ns, name) => shared.services.get(ns, name), cluster());
      if (key && !shared.ownWrites?.isEcho('EndpointSlice', e, () => sync(key))) sync(key);
    }),
    shared.namespaces.onEvent((e) => {
      const ns = e.object.metadata?.name;
      for (const key of deps.remoteKeys(ns)) sync(key);
    }),
    shared.onGatewayAddresses(() => deps.syncAll()),
    // Only the mirrors whose ports the gateways now listen on: every key would be a pass per port.
    shared.onListening?.((mirrors) => {
      for (const key of listeningKeys(mirrors, cluster(), (ns, name) => shared.services.get(ns, name)))
        sync(key);
    }) ?? (() => {}),
    shared.leadership.subscribe((leading) => {
      if (leading) deps.syncAll();
      else deps.steppedDown();
    }),
  ];
}

/**
 * The remote keys of `mirrors` (the allocator's owners, `<cluster>/<namespace>/<name>`) that are
 * `cluster`'s; `service`: the local Service cache.
 */
export function listeningKeys(
  mirrors: ReadonlySet<string>,
  cluster: string,
  service: (namespace: string, name: string) => V1Service | undefined,
): string[] {
  const keys: string[] = [];
  for (const mirror of mirrors) {
    // Another cluster's mirror, even at a name this Link's mirror could have, is not ours to sync.
    const owner = parseOwner(mirror);
    if (owner.cluster !== cluster) continue;
    const { namespace, name } = owner;
    const svc = service(namespace, name) ?? { metadata: { namespace, name } };
    const key = remoteKeyOf(svc, cluster);
    if (key) keys.push(key);
  }
  return keys;
}
