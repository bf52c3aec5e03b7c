/**
 * The remote side of one Link: informers on the remote API (exported Services, federated member
 * Services, remote-discovery Services, their EndpointSlices, the remote `isthmus-gateway` Service) and the remote gateway's
 * current addresses. Reports through callbacks; owns no local state, so the LinkWatcher can swap it
 * when the Link's credentials or selectors change. Nothing is watched before the remote has said
 * which cluster it is (remote-identity.ts): credentials that reach another cluster list nothing.
 * It is asked again before every re-list, and before every watch or read after a break
 * (identity-gate.ts): an address that comes to reach another cluster lists nothing either.
 */
import { isIsthmusError } from '../errors.js';
import { Backoff, type BackoffPolicy, DEFAULT_BACKOFF } from '../kube/backoff.js';
import type { KubeClient } from '../kube/client.js';
import { createInformer, type Informer, type InformerEvent } from '../kube/informer.js';
import { objectKey } from '../kube/informer-store.js';
import {
  GATEWAY_SERVICE_NAME,
  NOT_ISTHMUS_SLICES,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { KubeObject, V1EndpointSlice, V1LabelSelector, V1Namespace, V1Service } from '../kube/types.js';
import { dropManagedFields, trimRemoteService, trimRemoteSlice } from './cache-trim.js';
import { type DirectEndpoints, directEndpoints } from './direct-endpoints.js';
import { exportedAt } from './export-timing.js';
import { gatedClient, IdentityGate } from './identity-gate.js';
import { ListedVersions } from './inferred-deletes.js';
import { type LinkConfig, selectorMatches, selectorToQuery } from './link-config.js';
import type { RemoteEndpoints, RemoteService } from './mirror-sync.js';
import { type RemoteApiSource, RemoteApiSources } from './remote-api-sources.js';
import { gatewayHosts, resolveHosts } from './remote-gateway.js';
import { type NamedIdentity, type RemoteIdentity, refused, remoteIdentity } from './remote-identity.js';
import type { SharedLocal } from './shared.js';

export interface RemoteClusterEvents {
  /** A remote Service (`namespace/name`) or one of its EndpointSlices changed. */
  changed(key: string): void;
  /**
   * A remote Service became an export at `at` (local ms, export-timing.ts): a watch delivered it
   * after the first list (or a relist after 410 Gone found it new), and no selector picked it
   * before. Never called for what the first list holds.
   */
  exported(key: string, at: number): void;
  /** Every remote cache holds a complete list: orphans may now be judged. */
  synced(): void;
  /**
   * A re-list (after 410 Gone) lacked these Services (keys) that the watch had: the informer
   * inferred their deletion, the server did not report it (deletion-hold.ts). Called in one go per
   * re-list, before any sync of those keys can remove a mirror; each is then `changed` as usual.
   */
  listShrunk?(keys: string[]): void;
  /**
   * Whether the Service at `key` has a mirror here (or its removal is held): only such a Service's
   * slices a re-list lacks are kept until the remote says whether it is there (sliceLacked). Absent:
   * none has.
   */
  mirrored?(key: string): boolean;
  /**
   * Whether every remote read lists and watches (remote-api-sources.ts); else `error`, why the one
   * that says most cannot, as thrown (remote-api-failure.ts reads its status), and `resource`, what
   * that one reads.
   */
  health(connected: boolean, error?: unknown, resource?: string): void;
  /**
   * What the remote's `isthmus-system` namespace says of the Link's cluster, as the gate takes it
   * (identity-gate.ts): its first answer, then each answer that differs from the one before. A
   * refusal (a mismatch, or `unconfirmed`: it named a cluster before and cannot say now) is asked
   * again with backoff, in case the remote's label is what was wrong; informers start only on an
   * answer that is not a refusal, and once they run, every re-list and every watch after a break
   * asks again: a refusal then stops every list and watch before it is sent.
   */
  identity(identity: RemoteIdentity): void;
  /**
   * The remote gateway's addresses changed, or are known for the first time since start() (once
   * the remote gateway Service has been listed); `fromService`: its LoadBalancer ingress, not the
   * Link's gatewayAddress.
   */
  gatewayAddresses(addresses: string[], fromService: boolean): void;
}

export interface RemoteClusterOptions {
  /**
   * The addresses to answer with until the remote gateway Service has been listed: those a
   * previous connection found (a reconnect must not fall back to the Link's gatewayAddress, which
   * may be stale, and back), else the Link's.
   */
  addresses?: readonly string[];
  /**
   * What the remote said of itself on the connection this one replaces, for the same credentials
   * (the last answer that named a cluster): a remote that said a name there and cannot say now is
   * refused here too (remote-identity.ts, `recheck`).
   */
  before?: NamedIdentity;
}

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
  /** The remote `isthmus-gateway` Service; none for a Link without a gateway. */
  private readonly gateway: Informer<V1Service> | undefined;
  /**
   * Remote slices by the Service they serve (`namespace/service-name`), kept from the slice events:
   * endpoints() runs on every sync, and scanning every slice there made an initial sync O(N²)
   * (37% of the controller's CPU for 2 × 5,000 Services in the mirror benchmark).
   */
  private readonly slicesByService = new Map<string, Map<string, V1EndpointSlice>>();
  /**
   * Services that left one selector's watch while no other cache holds them. A mode switch is a
   * label change, which the three watches report separately: the one the Service leaves may say
   * DELETED before the one it enters says ADDED. Until a GET of the remote Service says where it
   * is, lookup() answers with what was last known, so no sync deletes the mirror meanwhile.
   */
  private readonly leaving = new Map<string, Leaving>();
  /** Per Service watch, and for the slices: which deletes a re-list inferred (inferred-deletes.ts). */
  private readonly listed = new Map<Informer<V1Service>, ListedVersions>();
  private readonly slicesListed = new ListedVersions();
  /** Keys a re-list lacked, reported together once the re-list's events are all in. */
  private shrunk: string[] | undefined;
  /**
   * Slices a re-list lacked, by the Service they serve, still counted in `slicesByService` until the
   * remote says whether that Service is there: a restored remote without its Services lacks their
   * slices too, and a mirror whose removal is held must keep its endpoints as they were
   * (deletion-hold.ts), whichever of the two re-lists comes first.
   */
  private readonly staleSlices = new Map<string, StaleSlices>();
  private resolveTimer: NodeJS.Timeout | undefined;
  /** The next identity check (after a failure, or of a mismatch). */
  private verifyTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Asks the remote which cluster it is, at the connection and after every break. */
  private readonly gate: IdentityGate;
  /** `client` behind the gate: what the informers and the reads of Services use. */
  private readonly gated: KubeClient;
  /** The remote informers the Link runs, each named for the health it reports. */
  private readonly watches: Watch[];
  /** Every remote read's health, and the `health` event decided from them all. */
  private readonly health: RemoteApiSources;
  /** The last answer reported (JSON): re-checks that change nothing say nothing. */
  private reported: string | undefined;
  private fallback: string[];
  /** The remote gateway Service has been listed: `addresses` are its (or the fallback's), not a guess. */
  private gatewayListed = false;
  isSynced = false;
  addresses: string[];
  /** Whether `addresses` come from the remote gateway Service's LoadBalancer ingress. */
  addressesFromService = false;

  constructor(
    readonly client: KubeClient,
    private readonly config: LinkConfig,
    private readonly shared: SharedLocal,
    private readonly events: RemoteClusterEvents,
    options: RemoteClusterOptions = {},
  ) {
    this.fallback = [...config.gatewayAddresses];
    this.addresses = [...(options.addresses ?? config.gatewayAddresses)];
    this.gate = new IdentityGate(
      () => this.askIdentity(),
      (identity) => this.report(identity),
      options.before,
    );
    const gated = gatedClient(client, this.gate);
    this.gated = gated;
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
      ? createInformer<V1Service>(gated, R.services, {
          namespace: SYSTEM_NAMESPACE,
          fieldSelector: `metadata.name=${GATEWAY_SERVICE_NAME}`,
          // status.loadBalancer is the gateway address: only managedFields go.
          transform: dropManagedFields,
          ...opts,
        })
      : undefined;
    const { services, federated, discovered, slices, gateway } = this;
    this.watches = watchesOf({ services, federated, discovered, slices, gateway });
    this.health = new RemoteApiSources([IDENTITY, ...this.watches.map(([source]) => source)], (h) => {
      if (this.stopped) return;
      if (h.up) events.health(true);
      else events.health(false, h.error, h.source.resource);
    });
  }

  /** Checks which cluster the remote is, then watches it (unless it is another cluster). */
  start(): void {
    void this.verify(new Backoff(this.shared.remoteBackoff ?? DEFAULT_BACKOFF));
  }

  /**
   * The connection's first question (identity-gate.ts asks it). A remote that does not answer is
   * an outage (health), asked again with backoff, as the informers would; so is a refusal.
   */
  private async verify(backoff: Backoff): Promise<void> {
    let identity: RemoteIdentity;
    try {
      identity = await this.gate.identity();
    } catch (err) {
      if (this.stopped) return;
      this.health.set(IDENTITY, { connected: false, error: err });
      this.verifyLater(backoff);
      return;
    }
    if (this.stopped) return;
    this.health.set(IDENTITY, { connected: true });
    if (refused(identity)) this.verifyLater(backoff);
    else this.watch();
  }

  private verifyLater(backoff: Backoff): void {
    if (this.stopped) return;
    this.gate.broken();
    this.verifyTimer = setTimeout(() => void this.verify(backoff), backoff.next());
    this.verifyTimer.unref();
  }

  /**
   * One GET of the remote's `isthmus-system` namespace (which the remote-access role may read),
   * past the gate. A 403 or a missing label cannot say: trusted unless the remote said a name
   * before on this connection (the gate's `recheck`, remote-identity.ts).
   */
  private async askIdentity(): Promise<RemoteIdentity> {
    let namespace: V1Namespace | 'forbidden' | undefined;
    try {
      namespace = await this.client.get<V1Namespace>(R.namespaces, undefined, SYSTEM_NAMESPACE);
    } catch (err) {
      if (!isIsthmusError(err, 'KUBE_FORBIDDEN')) throw err;
      namespace = 'forbidden';
    }
    return remoteIdentity(namespace, this.config.clusterName);
  }

  private report(identity: RemoteIdentity): void {
    const said = JSON.stringify(identity);
    if (this.stopped || said === this.reported) return;
    this.reported = said;
    this.events.identity(identity);
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
    slices.onEvent((e) => {
      const name = e.object.metadata?.labels?.[SERVICE_NAME_LABEL];
      const ns = e.object.metadata?.namespace ?? '';
      const key = `${ns}/${name}`;
      if (this.slicesListed.inferred(e, objectKey(e.object))) {
        // The slice watch lists every Service's: a Service without a mirror here has nothing to keep.
        if (name && events.mirrored?.(key)) return this.sliceLacked(key, e.object.metadata?.name ?? '');
      } else if (name) this.dropStaleSlices(key);
      this.indexSlice(e);
      if (name && (services?.get(ns, name) ?? federated?.get(ns, name) ?? discovered?.get(ns, name)))
        events.changed(key);
    });
    gateway?.onEvent(() => {
      if (this.gatewayListed) void this.refreshGateway();
    });
    slices.start();
    gateway?.start();
    // Before its first list the gateway Service is not known to have no LoadBalancer address: the
    // addresses stay what they were (the fallback would flip every mirror to it and back).
    const gatewayKnown = gateway?.synced.then(() => {
      if (this.stopped) return;
      this.gatewayListed = true;
      return this.refreshGateway(true);
    });
    // Orphans are judged only on a complete remote list, and mirrors written only once the remote
    // gateway's address is known: wait for every remote cache.
    void Promise.all([services?.synced, federated?.synced, discovered?.synced, slices.synced, gatewayKnown])
      .then(() => {
        if (this.stopped) return;
        this.isSynced = true;
        events.synced();
      })
      .catch(() => {});
    if (!gateway) return;
    this.resolveTimer = setInterval(() => {
      if (this.gatewayListed) void this.refreshGateway();
    }, this.shared.resolveIntervalMs);
    this.resolveTimer.unref();
  }

  /** Whether the remote gateway Service has been listed, so `addresses` are known, not carried over. */
  get gatewayKnown(): boolean {
    return this.gatewayListed;
  }

  /**
   * Closes the client first: that ends every request in flight at once, one still connecting
   * included (a remote that accepts TCP and never answers holds a TLS handshake until undici's
   * 10 s connect timeout, which an informer's abort signal does not cut short), so a controller's
   * stop or reconnect never waits on the remote.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resolveTimer);
    clearTimeout(this.verifyTimer);
    for (const entry of this.leaving.values()) clearTimeout(entry.timer);
    this.leaving.clear();
    for (const entry of this.staleSlices.values()) clearTimeout(entry.timer);
    this.staleSlices.clear();
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
    this.fallback = [...addresses];
    if (this.gatewayListed) void this.refreshGateway();
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
    return this.leaving.get(`${namespace}/${name}`)?.found;
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
    return directEndpoints(this.slicesByService.get(`${namespace}/${name}`)?.values() ?? [], clusterFamily);
  }

  endpoints(namespace: string, name: string): RemoteEndpoints {
    let ready = 0;
    let total = 0;
    let named = false;
    const hostnames: string[] = [];
    for (const slice of this.slicesByService.get(`${namespace}/${name}`)?.values() ?? []) {
      for (const ep of slice.endpoints ?? []) {
        total++;
        // Ready or not, as Linkerd's shouldExportAsHeadlessService counts (mirror-kind.ts).
        if (ep.hostname) named = true;
        // An absent `ready` means ready (discovery.k8s.io/v1 EndpointConditions).
        if (ep.conditions?.ready === false) continue;
        ready++;
        if (ep.hostname && !hostnames.includes(ep.hostname)) hostnames.push(ep.hostname);
      }
    }
    return { ready, hostnames: hostnames.sort(), total, named };
  }

  /** A Service event of one of the three watches; `listed`: that watch has listed once. */
  private serviceEvent(e: InformerEvent<V1Service>, informer: Informer<V1Service>, listed: boolean): void {
    const key = keyOf(e.object);
    const [namespace = '', name = ''] = key.split('/');
    const versions = this.listed.get(informer) ?? new ListedVersions();
    this.listed.set(informer, versions);
    const inferred = versions.inferred(e, key);
    // Listed again (a watch's word, not a re-list's inference): its slices are the remote's again.
    if (!inferred) this.dropStaleSlices(key);
    if (listed && e.type === 'add' && !this.pickedElsewhere(key, informer))
      this.events.exported(key, exportedAt(e.object.metadata?.creationTimestamp, Date.now()));
    // Whatever was held for the key: a watch reports it again, or it leaves once more.
    this.forget(key);
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
    const entry: Leaving = { found, backoff: new Backoff(this.shared.remoteBackoff ?? DEFAULT_BACKOFF) };
    this.leaving.set(key, entry);
    void this.confirm(key, entry);
  }

  /**
   * A re-list lacks a slice of the Service at `key`: kept until a GET of that Service says it is
   * there (then the slice is gone indeed and the key synced), or a watch reports the Service or one
   * of its slices again. A Service gone too keeps its endpoints: its own removal, held or not,
   * decides the mirror. A failed GET is asked again with backoff.
   */
  private sliceLacked(key: string, slice: string): void {
    const known = this.staleSlices.get(key);
    if (known) {
      known.names.add(slice);
      return;
    }
    const entry: StaleSlices = { names: new Set([slice]) };
    this.staleSlices.set(key, entry);
    void this.confirmSlices(key, entry, new Backoff(this.shared.remoteBackoff ?? DEFAULT_BACKOFF));
  }

  private async confirmSlices(key: string, entry: StaleSlices, backoff: Backoff): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    let there: boolean;
    try {
      there = (await this.gated.get<V1Service>(R.services, namespace, name)) !== undefined;
    } catch {
      if (this.stopped || this.staleSlices.get(key) !== entry) return;
      entry.timer = setTimeout(() => void this.confirmSlices(key, entry, backoff), backoff.next());
      entry.timer.unref();
      return;
    }
    if (this.stopped || this.staleSlices.get(key) !== entry) return;
    // Gone, and gone from the caches too: no sync reads its endpoints any more.
    const unread = !this.lists(key) && !this.leaving.has(key);
    if (!there && !unread) return;
    this.dropStaleSlices(key);
    if (there) this.events.changed(key);
  }

  /** The slices a re-list lacked for `key` leave the index: the remote's word on them has come. */
  private dropStaleSlices(key: string): void {
    const entry = this.staleSlices.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.staleSlices.delete(key);
    const slices = this.slicesByService.get(key);
    for (const name of entry.names) slices?.delete(name);
    if (slices?.size === 0) this.slicesByService.delete(key);
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

  /**
   * Asks the remote where a leaving Service is. Gone, or picked by no selector: the key is synced
   * at once with nothing found (its mirror goes). Picked by another selector: that answer stands
   * until the watch of its selector reports the Service, and is asked again (with backoff) in case
   * it never does; a failing remote API is asked again too, as mirrors are kept through an outage.
   */
  private async confirm(key: string, entry: Leaving): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    let current: RemoteService | undefined;
    try {
      const service = await this.gated.get<V1Service>(R.services, namespace, name);
      current = service && classify(trimRemoteService(service), this.config);
    } catch {
      if (this.leaving.get(key) === entry) this.retryConfirm(key, entry);
      return;
    }
    if (this.stopped || this.leaving.get(key) !== entry) return;
    if (current) {
      entry.found = current;
      this.retryConfirm(key, entry);
    } else {
      this.leaving.delete(key);
      this.dropStaleSlices(key);
    }
    this.events.changed(key);
  }

  private retryConfirm(key: string, entry: Leaving): void {
    if (this.stopped) return;
    entry.timer = setTimeout(() => void this.confirm(key, entry), entry.backoff.next());
    entry.timer.unref();
  }

  private forget(key: string): void {
    clearTimeout(this.leaving.get(key)?.timer);
    this.leaving.delete(key);
  }

  /** Keeps `slicesByService` in step with one slice event (a relabelled slice moves entries). */
  private indexSlice(e: InformerEvent<V1EndpointSlice>): void {
    const serviceKey = (s: V1EndpointSlice) =>
      `${s.metadata?.namespace ?? ''}/${s.metadata?.labels?.[SERVICE_NAME_LABEL] ?? ''}`;
    const sliceName = e.object.metadata?.name ?? '';
    const gone = e.type === 'update' ? e.old : e.type === 'delete' ? e.object : undefined;
    if (gone) {
      const entry = this.slicesByService.get(serviceKey(gone));
      entry?.delete(sliceName);
      if (entry?.size === 0) this.slicesByService.delete(serviceKey(gone));
    }
    if (e.type === 'delete' || !e.object.metadata?.labels?.[SERVICE_NAME_LABEL]) return;
    const key = serviceKey(e.object);
    const entry = this.slicesByService.get(key) ?? new Map<string, V1EndpointSlice>();
    this.slicesByService.set(key, entry.set(sliceName, e.object));
  }

  /** `first`: the first resolution since start(), reported even when the addresses carried over hold. */
  private async refreshGateway(first = false): Promise<void> {
    const svc = this.gateway?.get(SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME);
    const fromService = gatewayHosts(svc, []).length > 0;
    const addresses = await resolveHosts(gatewayHosts(svc, this.fallback), this.shared.resolve);
    if (this.stopped) return;
    if (!first && addresses.join() === this.addresses.join() && fromService === this.addressesFromService)
      return;
    this.addresses = addresses;
    this.addressesFromService = fromService;
    this.events.gatewayAddresses(addresses, fromService);
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

/** The first read of a connection: the GET of `isthmus-system` that says which cluster it is. */
const IDENTITY: RemoteApiSource = { name: 'identity', resource: 'namespaces' };

/** Slices (names) a re-list lacked, of one Service; `timer`: the GET of that Service asked again. */
interface StaleSlices {
  names: Set<string>;
  timer?: NodeJS.Timeout;
}

interface Leaving {
  /** What lookup() answers: the last-known mode, then the remote's answer. */
  found: RemoteService;
  backoff: Backoff;
  timer?: NodeJS.Timeout;
}

/**
 * Whether one of the Link's selectors picks a remote Service, and how it is mirrored. Exported
 * Services and federated members go through the gateways even when the remote-discovery selector
 * picks them too: the tunnel is the mode that needs no flat network. On a Link without a gateway,
 * federated members are mirrored in remote-discovery mode.
 */
export function classify(service: V1Service, config: LinkConfig): RemoteService | undefined {
  const labels = service.metadata?.labels;
  if (selectorMatches(config.selector, labels)) return { service, mode: 'gateway' };
  if (selectorMatches(config.federatedServiceSelector, labels))
    return { service, mode: config.hasGateway ? 'gateway' : 'remote-discovery' };
  if (selectorMatches(config.remoteDiscoverySelector, labels)) return { service, mode: 'remote-discovery' };
  return undefined;
}

/** An empty selector selects nothing: no watch at all, an always-empty (complete) list. */
function serviceInformer(
  client: KubeClient,
  selector: V1LabelSelector | null,
  opts: { backoff?: BackoffPolicy },
): Informer<V1Service> | undefined {
  if (!selector) return undefined;
  return createInformer<V1Service>(client, R.services, {
    labelSelector: selectorToQuery(selector),
    transform: trimRemoteService,
    ...opts,
  });
}

export function keyOf(svc: V1Service): string {
  return `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
}
