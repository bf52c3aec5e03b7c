/**
 * The remote side of one Link: informers on the remote API (exported Services, federated member
 * Services, remote-discovery Services, their EndpointSlices, the remote `isthmus-gateway` Service) and the remote gateway's
 * current addresses. Reports through callbacks; owns no local state, so the LinkWatcher can swap it
 * when the Link's credentials or selectors change. Nothing is watched before the remote has said
 * which cluster it is (remote-identity.ts): credentials that reach another cluster list nothing.
 * It is asked again before every re-list, and before every watch or read after a break
 * (identity-gate.ts): an address that comes to reach another cluster lists nothing either.
 *
 * This class runs the watches and answers for what they hold; its parts are in modules of their
 * own: identity-check.ts (the first question), remote-selection.ts (which Services a selector
 * picks), remote-slices.ts (the slices by Service), leaving-services.ts (a Service between two
 * watches) and remote-gateway-watch.ts (the remote gateway's addresses).
 */
import type { KubeClient } from '../kube/client.js';
import { createInformer, type Informer, type InformerEvent } from '../kube/informer.js';
import { NOT_ISTHMUS_SLICES } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { KubeObject, V1EndpointSlice, V1Service } from '../kube/types.js';
import { trimRemoteSlice } from './cache-trim.js';
import type { DirectEndpoints } from './direct-endpoints.js';
import { exportedAt } from './export-timing.js';
import { IDENTITY, IdentityCheck } from './identity-check.js';
import { gatedClient } from './identity-gate.js';
import { ListedVersions } from './inferred-deletes.js';
import { LeavingServices } from './leaving-services.js';
import type { LinkConfig } from './link-config.js';
import type { RemoteEndpoints, RemoteService } from './mirror-sync.js';
import { type RemoteApiSource, RemoteApiSources } from './remote-api-sources.js';
import type { RemoteClusterEvents, RemoteClusterOptions } from './remote-cluster-events.js';
import { RemoteGatewayWatch } from './remote-gateway-watch.js';
import { classify, keyOf, serviceInformer } from './remote-selection.js';
import { RemoteSlices } from './remote-slices.js';
import type { SharedLocal } from './shared.js';

export type { RemoteClusterEvents, RemoteClusterOptions };
/** Moved to remote-selection.ts and remote-cluster-events.ts; exported here as before. */
export { classify, keyOf };

export class RemoteCluster {
  private readonly services: Informer<V1Service> | undefined;
  /**
   * Federated members, a watch of its own: it lists only members, so a cluster without any pays one
   * empty list-watch per Link, and exported Services are not listed twice.
   */
  private readonly federated: Informer<V1Service> | undefined;
  /** Remote-discovery Services (`remoteDiscoverySelector`), a label-selected watch of its own too. */
  private readonly discovered: Informer<V1Service> | undefined;
  private readonly slices: Informer<V1EndpointSlice>;
  /** The remote `isthmus-gateway` Service and its addresses; none for a Link without a gateway. */
  private readonly gateway: RemoteGatewayWatch | undefined;
  /** The addresses of a Link without a gateway: what it was made with. */
  private readonly carried: string[];
  /** The slice watch's index, and the slices a re-list lacked (remote-slices.ts). */
  private readonly sliceIndex: RemoteSlices;
  /** Services between two watches, answered as last known until the remote says (leaving-services.ts). */
  private readonly leaving: LeavingServices;
  /** Per Service watch: which deletes a re-list inferred (inferred-deletes.ts). */
  private readonly listed = new Map<Informer<V1Service>, ListedVersions>();
  /** Keys a re-list lacked, reported together once the re-list's events are all in. */
  private shrunk: string[] | undefined;
  private stopped = false;
  /** Asks the remote which cluster it is, at the connection and after every break (identity-check.ts). */
  private readonly identity: IdentityCheck;
  /** The remote informers the Link runs, each named for the health it reports. */
  private readonly watches: Watch[];
  /** Every remote read's health, and the `health` event decided from them all. */
  private readonly health: RemoteApiSources;
  isSynced = false;

  constructor(
    readonly client: KubeClient,
    private readonly config: LinkConfig,
    shared: SharedLocal,
    private readonly events: RemoteClusterEvents,
    options: RemoteClusterOptions = {},
  ) {
    this.carried = [...(options.addresses ?? config.gatewayAddresses)];
    this.identity = new IdentityCheck({
      client,
      cluster: config.clusterName,
      backoff: shared.remoteBackoff,
      before: options.before,
      health: (h) => this.health.set(IDENTITY, h),
      identity: (identity) => this.events.identity(identity),
      accepted: () => this.watch(),
    });
    // `client` behind the gate: what the informers and the reads of Services use.
    const gated = gatedClient(client, this.identity.gate);
    this.sliceIndex = new RemoteSlices({
      client: gated,
      backoff: shared.remoteBackoff,
      mirrored: (key) => events.mirrored?.(key) ?? false,
      cached: (ns, name) =>
        Boolean(
          this.services?.get(ns, name) ?? this.federated?.get(ns, name) ?? this.discovered?.get(ns, name),
        ),
      unread: (key) => !this.lists(key) && !this.leaving.has(key),
      changed: (key) => events.changed(key),
    });
    this.leaving = new LeavingServices({
      client: gated,
      backoff: shared.remoteBackoff,
      classify: (service) => classify(service, config),
      dropSlices: (key) => this.sliceIndex.drop(key),
      changed: (key) => events.changed(key),
    });
    const opts = shared.remoteBackoff ? { backoff: shared.remoteBackoff } : {};
    this.services = serviceInformer(gated, config.selector, opts);
    this.federated = serviceInformer(gated, config.federatedServiceSelector, opts);
    this.discovered = serviceInformer(gated, config.remoteDiscoverySelector, opts);
    this.slices = createInformer<V1EndpointSlice>(gated, R.endpointSlices, {
      // Only slices of pods: a remote apex's or mirror's slices would make its Service look ready.
      labelSelector: NOT_ISTHMUS_SLICES,
      transform: trimRemoteSlice,
      ...opts,
    });
    this.gateway = config.hasGateway
      ? new RemoteGatewayWatch({
          client: gated,
          backoff: shared.remoteBackoff,
          fallback: config.gatewayAddresses,
          addresses: this.carried,
          resolve: shared.resolve,
          resolveIntervalMs: shared.resolveIntervalMs,
          changed: (addresses, fromService) => events.gatewayAddresses(addresses, fromService),
        })
      : undefined;
    const { services, federated, discovered, slices } = this;
    this.watches = watchesOf({ services, federated, discovered, slices, gateway: this.gateway?.informer });
    this.health = new RemoteApiSources([IDENTITY, ...this.watches.map(([source]) => source)], (h) => {
      if (this.stopped) return;
      if (h.up) events.health(true);
      else events.health(false, h.error, h.source.resource);
    });
  }

  /** Checks which cluster the remote is, then watches it (unless it is another cluster). */
  start(): void {
    this.identity.start();
  }

  private watch(): void {
    const { services, federated, discovered, slices, gateway, events } = this;
    for (const [source, informer] of this.watches)
      informer.onHealth((h) =>
        this.health.set(source, h.connected ? { connected: true } : { connected: false, error: h.lastError }),
      );
    for (const informer of [services, federated, discovered]) {
      if (!informer) continue;
      // The first list's events come before `synced` resolves (its handlers run first), every
      // watch event after: only those can be exports.
      let listed = false;
      informer.synced.then(
        () => {
          listed = true;
        },
        () => {},
      );
      informer.onEvent((e) => this.serviceEvent(e, informer, listed));
      informer.start();
    }
    slices.onEvent((e) => this.sliceIndex.event(e));
    slices.start();
    const gatewayKnown = gateway?.start();
    // Orphans are judged only on a complete remote list, and mirrors written only once the remote
    // gateway's address is known: wait for every remote cache.
    void Promise.all([services?.synced, federated?.synced, discovered?.synced, slices.synced, gatewayKnown])
      .then(() => {
        if (this.stopped) return;
        this.isSynced = true;
        events.synced();
      })
      .catch(() => {});
  }

  /** Whether the remote gateway Service has been listed, so `addresses` are known, not carried over. */
  get gatewayKnown(): boolean {
    return this.gateway?.known ?? false;
  }

  /** The remote gateway's current addresses (remote-gateway-watch.ts). */
  get addresses(): string[] {
    return this.gateway?.addresses ?? this.carried;
  }

  /** Whether `addresses` come from the remote gateway Service's LoadBalancer ingress. */
  get addressesFromService(): boolean {
    return this.gateway?.fromService ?? false;
  }

  /**
   * Closes the client first: that ends every request in flight at once, one still connecting
   * included (a remote that accepts TCP and never answers holds a TLS handshake until undici's
   * 10 s connect timeout, which an informer's abort signal does not cut short), so a controller's
   * stop or reconnect never waits on the remote.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.identity.stop();
    this.leaving.stop();
    this.sliceIndex.stop();
    this.client.close();
    await Promise.all([
      this.services?.stop(),
      this.federated?.stop(),
      this.discovered?.stop(),
      this.slices.stop(),
      this.gateway?.stop(),
    ]);
  }

  /** The Link's `gatewayAddress` changed: the fallback used while the LB Service has no ingress. */
  setFallback(addresses: string[]): void {
    this.gateway?.setFallback(addresses);
  }

  /**
   * The remote Service if it exists and one of the Link's selectors picks it, and how it is
   * mirrored (`classify`); for a Service between two watches, the last-known answer (`leaving`).
   */
  lookup(namespace: string, name: string): RemoteService | undefined {
    for (const informer of [this.services, this.federated, this.discovered]) {
      const service = informer?.get(namespace, name);
      const found = service && classify(service, this.config);
      if (found) return found;
    }
    return this.leaving.found(`${namespace}/${name}`);
  }

  /**
   * Whether a watch's cache holds the Service and a selector picks it: what the remote lists now,
   * not `leaving`'s last-known answer (deletion-hold.ts: a Service listed again ends its hold).
   */
  lists(key: string): boolean {
    const [namespace = '', name = ''] = key.split('/');
    return [this.services, this.federated, this.discovered].some((informer) => {
      const service = informer?.get(namespace, name);
      return service !== undefined && classify(service, this.config) !== undefined;
    });
  }

  service(namespace: string, name: string): V1Service | undefined {
    return this.lookup(namespace, name)?.service;
  }

  /** Keys of every cache, each once (a Service can be in more than one). */
  serviceKeys(namespace?: string): string[] {
    const keys = new Set<string>();
    for (const informer of [this.services, this.federated, this.discovered]) {
      for (const s of informer?.list() ?? []) {
        if (namespace === undefined || s.metadata?.namespace === namespace) keys.add(keyOf(s));
      }
    }
    return [...keys];
  }

  /** The remote pods of a remote-discovery Service, as its mirror's slice lists them. */
  directEndpoints(namespace: string, name: string, clusterFamily?: string): DirectEndpoints {
    return this.sliceIndex.directEndpoints(namespace, name, clusterFamily);
  }

  endpoints(namespace: string, name: string): RemoteEndpoints {
    return this.sliceIndex.endpoints(namespace, name);
  }

  /** A Service event of one of the three watches; `listed`: that watch has listed once. */
  private serviceEvent(e: InformerEvent<V1Service>, informer: Informer<V1Service>, listed: boolean): void {
    const key = keyOf(e.object);
    const [namespace = '', name = ''] = key.split('/');
    const versions = this.listed.get(informer) ?? new ListedVersions();
    this.listed.set(informer, versions);
    const inferred = versions.inferred(e, key);
    // Listed again (a watch's word, not a re-list's inference): its slices are the remote's again.
    if (!inferred) this.sliceIndex.drop(key);
    if (listed && e.type === 'add' && !this.pickedElsewhere(key, informer))
      this.events.exported(key, exportedAt(e.object.metadata?.creationTimestamp, Date.now()));
    // Whatever was held for the key: a watch reports it again, or it leaves once more.
    this.leaving.forget(key);
    const cached = [this.services, this.federated, this.discovered].some((i) => i?.get(namespace, name));
    if (e.type !== 'delete' || cached) {
      this.events.changed(key);
      return;
    }
    if (inferred) this.listLacks(key);
    // Gone from every cache. A Service another selector picks now is reported by that watch later,
    // so hold on to the last-known answer until the remote says which it is.
    const found = classify(e.object, this.config);
    if (!found) {
      // One a re-list lacks is synced once listShrunk has been told.
      if (!inferred) this.events.changed(key);
      return;
    }
    this.leaving.hold(key, found);
  }

  /**
   * A re-list lacks `key`. A re-list's events all come in one go: those of the same turn are told
   * together, in a microtask, before the remote GET of `confirm` can answer for any of them, and
   * are then synced (a key `confirm` holds keeps its last-known answer until it has asked).
   */
  private listLacks(key: string): void {
    if (this.shrunk) {
      this.shrunk.push(key);
      return;
    }
    this.shrunk = [key];
    queueMicrotask(() => {
      const keys = this.shrunk ?? [];
      this.shrunk = undefined;
      if (this.stopped) return;
      this.events.listShrunk?.(keys);
      for (const k of keys) this.events.changed(k);
    });
  }

  /**
   * Whether a selector other than `watched`'s picks the Service, or picked it until just now: one
   * entering a watch is then no new export but a move between modes.
   */
  private pickedElsewhere(key: string, watched: Informer<V1Service>): boolean {
    const [namespace = '', name = ''] = key.split('/');
    const others = [this.services, this.federated, this.discovered].filter((i) => i && i !== watched);
    return this.leaving.has(key) || others.some((i) => i?.get(namespace, name));
  }
}

type Watch = [RemoteApiSource, Pick<Informer<KubeObject>, 'onHealth'>];

/** Every informer of `remote` there is, in the order a tie between alike failures is named. */
function watchesOf(remote: {
  services: Informer<V1Service> | undefined;
  federated: Informer<V1Service> | undefined;
  discovered: Informer<V1Service> | undefined;
  slices: Informer<V1EndpointSlice>;
  gateway: Informer<V1Service> | undefined;
}): Watch[] {
  const all: [RemoteApiSource, Watch[1] | undefined][] = [
    [{ name: 'exported services', resource: 'services' }, remote.services],
    [{ name: 'federated services', resource: 'services' }, remote.federated],
    [{ name: 'remote-discovery services', resource: 'services' }, remote.discovered],
    [{ name: 'endpointslices', resource: 'endpointslices' }, remote.slices],
    [{ name: 'gateway service', resource: 'services' }, remote.gateway],
  ];
  return all.filter((w): w is Watch => w[1] !== undefined);
}
