/**
 * The remote `isthmus-gateway` Service of one connection, and the remote gateway's addresses as it
 * says them (remote-gateway.ts): its LoadBalancer ingress, re-resolved periodically, else the
 * Link's gatewayAddress. remote-cluster.ts runs one for a Link with a gateway.
 */
import type { BackoffPolicy } from '../kube/backoff.js';
import type { KubeClient } from '../kube/client.js';
import { createInformer, type Informer } from '../kube/informer.js';
import { GATEWAY_SERVICE_NAME, SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { V1Service } from '../kube/types.js';
import { dropManagedFields } from './cache-trim.js';
import { gatewayHosts, type Resolve, resolveHosts } from './remote-gateway.js';

export interface RemoteGatewayWatchDeps {
  /** The remote client behind the identity gate. */
  client: KubeClient;
  backoff: BackoffPolicy | undefined;
  /** The Link's gatewayAddress: the fallback used while the LB Service has no ingress. */
  fallback: readonly string[];
  /** What `addresses` says until the Service has been listed (RemoteClusterOptions.addresses). */
  addresses: readonly string[];
  resolve: Resolve | undefined;
  resolveIntervalMs: number;
  /** RemoteClusterEvents.gatewayAddresses. */
  changed(addresses: string[], fromService: boolean): void;
}

export class RemoteGatewayWatch {
  readonly informer: Informer<V1Service>;
  private fallback: string[];
  /** The remote gateway Service has been listed: `addresses` are its (or the fallback's), not a guess. */
  private listed = false;
  private resolveTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Resolutions started (refresh): only the last one's answer is kept. */
  private refreshes = 0;
  /** The resolution started last. */
  private latest: Promise<void> = Promise.resolve();
  /** The next resolution to finish reports even unchanged addresses (the first since start()). */
  private reportNext = false;
  addresses: string[];
  /** Whether `addresses` come from the remote gateway Service's LoadBalancer ingress. */
  fromService = false;

  constructor(private readonly deps: RemoteGatewayWatchDeps) {
    this.fallback = [...deps.fallback];
    this.addresses = [...deps.addresses];
    this.informer = createInformer<V1Service>(deps.client, R.services, {
      namespace: SYSTEM_NAMESPACE,
      fieldSelector: `metadata.name=${GATEWAY_SERVICE_NAME}`,
      // status.loadBalancer is the gateway address: only managedFields go.
      transform: dropManagedFields,
      ...(deps.backoff ? { backoff: deps.backoff } : {}),
    });
  }

  /** Whether the remote gateway Service has been listed, so `addresses` are known, not carried over. */
  get known(): boolean {
    return this.listed;
  }

  /** Starts the watch; resolves once the Service has been listed and its addresses reported. */
  start(): Promise<void> {
    this.informer.onEvent(() => {
      if (this.listed) void this.refresh();
    });
    this.informer.start();
    // Before its first list the gateway Service is not known to have no LoadBalancer address: the
    // addresses stay what they were (the fallback would flip every mirror to it and back).
    const known = this.informer.synced.then(() => {
      if (this.stopped) return;
      this.listed = true;
      return this.refresh(true);
    });
    this.resolveTimer = setInterval(() => {
      if (this.listed) void this.refresh();
    }, this.deps.resolveIntervalMs);
    this.resolveTimer.unref();
    return known;
  }

  /** The Link's `gatewayAddress` changed: the fallback used while the LB Service has no ingress. */
  setFallback(addresses: string[]): void {
    this.fallback = [...addresses];
    if (this.listed) void this.refresh();
  }

  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resolveTimer);
    return this.informer.stop();
  }

  /**
   * Resolves the addresses now and reports them if they changed. `first`: the first resolution since
   * start(), reported even when the addresses carried over hold. Resolutions overlap (a Service
   * event, a new fallback and the interval each start one, and a hostname may take seconds to
   * resolve): only the one started last is kept, so an older Service state or name answered late
   * does not put an old address back (review). One superseded settles with the one that took its
   * place, which reports for it if it was the first.
   */
  private refresh(first = false): Promise<void> {
    if (first) this.reportNext = true;
    const run = this.resolveAndReport(++this.refreshes);
    this.latest = run;
    return run;
  }

  private async resolveAndReport(seq: number): Promise<void> {
    const svc = this.informer.get(SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME);
    const fromService = gatewayHosts(svc, []).length > 0;
    const addresses = await resolveHosts(gatewayHosts(svc, this.fallback), this.deps.resolve);
    if (this.stopped) return;
    if (seq !== this.refreshes) return this.latest;
    const report = this.reportNext;
    this.reportNext = false;
    if (!report && addresses.join() === this.addresses.join() && fromService === this.fromService) return;
    this.addresses = addresses;
    this.fromService = fromService;
    this.deps.changed(addresses, fromService);
  }
}
