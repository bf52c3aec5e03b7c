/**
 * One Link's connection to its remote cluster's API: the credentials Secret read, watched, and
 * followed when it changes (credentials-watch.ts; credentials-use.ts decides whether a read means a
 * new connection), and the RemoteCluster made with it (remote-cluster.ts). The connection keeps
 * what must outlive a reconnect: the remote gateway's addresses as last found, and what the remote
 * last said of itself on the same credentials. News of the remote's Services goes to the
 * LinkWatcher (`events`), that of the remote API's health and identity to its RemoteApiReport.
 */
import { describeError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import type { Informer } from '../kube/informer.js';
import type { V1Secret } from '../kube/types.js';
import { carriedIdentity, needsReconnect, type Said } from './credentials-use.js';
import {
  credentialsFingerprint,
  credentialsLifetime,
  readCredentials,
  watchCredentials,
} from './credentials-watch.js';
import {
  followedAddresses,
  gatewayTarget,
  type KnownGateway,
  probeWaits,
  sameAddresses,
} from './followed-gateway.js';
import type { LinkConfig } from './link-config.js';
import type { LinkMetrics } from './link-metrics.js';
import type { RemoteApiReport } from './remote-api-report.js';
import { RemoteCluster } from './remote-cluster.js';
import { namedBy } from './remote-identity.js';
import type { SharedLocal } from './shared.js';

/** What the LinkWatcher does with the news of the connection's remote (RemoteClusterEvents). */
export interface LinkConnectionEvents {
  /** A remote Service or its slices changed; `current`: the remote that says so, if still connected. */
  changed(key: string, current: RemoteCluster | undefined): void;
  /** Of the current connection only. */
  listShrunk(keys: string[]): void;
  mirrored(key: string): boolean;
  /** Of the current connection only. */
  exported(key: string, at: number): void;
  /** Every cache of `remote`, connected with `config`, holds a complete list. */
  synced(remote: RemoteCluster, config: LinkConfig): void;
  /** The remote gateway's addresses changed: probe them, and sync every key. */
  gatewayMoved(): void;
}

export interface LinkConnectionDeps {
  shared: SharedLocal;
  metrics: LinkMetrics;
  report: RemoteApiReport;
  events: LinkConnectionEvents;
  config(): LinkConfig;
  /** The LinkWatcher has stopped. */
  stopped(): boolean;
  /** Aborted by the LinkWatcher's stop(): ends a read of the credentials in flight. */
  signal: AbortSignal;
  logFields(): object;
  /** Queues a connect(). */
  connectLater(): void;
}

export class LinkConnection {
  private current: RemoteCluster | undefined;
  /** credentialsFingerprint of the Secret `remote` was built from. */
  private connectedWith: string | undefined;
  /** The credentials Secret's watch: its changes queue a connect (credentials-watch.ts). */
  private credentials: Informer<V1Secret> | undefined;
  /**
   * The last answer of the remote that named a cluster, and the credentials it was heard with: a
   * connection started over on the same credentials (after a refusal, a Link edit) refuses a
   * remote that cannot say, as the one before would have. New credentials are checked afresh.
   */
  private said: Said | undefined;
  /**
   * The remote gateway's addresses as the last connection found them, kept across reconnects (a
   * credentials rotation, a selector edit): until the new connection has listed the remote gateway
   * Service, mirrors and probes keep them rather than fall back to the Link's gatewayAddress.
   */
  private known: KnownGateway | undefined;

  constructor(private readonly deps: LinkConnectionDeps) {}

  /** The running connection's remote; undefined while there is none. */
  get remote(): RemoteCluster | undefined {
    return this.current;
  }

  get knownGateway(): KnownGateway | undefined {
    return this.known;
  }

  forgetKnownGateway(): void {
    this.known = undefined;
  }

  /** The remote gateway's addresses to follow (followed-gateway.ts). */
  gatewayAddresses(): string[] {
    return followedAddresses(this.current?.addresses, this.known, this.deps.config().gatewayAddresses);
  }

  /** The remote gateway to dial (followed-gateway.ts). */
  remoteGateway(): string | undefined {
    const { shared } = this.deps;
    return gatewayTarget(this.gatewayAddresses(), shared.clusterFamily(), this.deps.config().gatewayPort);
  }

  /** The gateway to probe; undefined while a first connection is on its way to say (followed-gateway.ts). */
  probeTarget(): string | undefined {
    const { credentialsError, remoteApiUp } = this.deps.report.facts();
    const waiting = probeWaits({
      known: this.known !== undefined,
      connectionKnows: this.current?.gatewayKnown ?? false,
      credentialsError,
      remoteApiUp,
    });
    return waiting ? undefined : this.remoteGateway();
  }

  /** (Re)starts the credentials Secret's watch, for the Secret the Link names now. */
  watchCredentials(): void {
    void this.credentials?.stop();
    const { deps } = this;
    const config = deps.config();
    this.credentials = watchCredentials(
      deps.shared.client,
      config.linkNamespace,
      config.credentialsSecret,
      () => deps.connectLater(),
      deps.shared.remoteBackoff,
    );
  }

  stopWatchingCredentials(): Promise<void> | undefined {
    return this.credentials?.stop();
  }

  /**
   * Reads the credentials Secret and, unless the remote informers already run on this content,
   * starts them on it (replacing any on older content). Without a working connection a failure is
   * thrown (retried by the queue, a failed sync) and the remote API counts as down: there is
   * nothing it could be listed with. A Secret gone or unusable while connected keeps the working
   * connection, as Linkerd's service mirror does: the status and one Warning say so, and the
   * Secret's watch brings it back here when the Secret changes (credentials-watch.ts).
   */
  async connect(): Promise<void> {
    const { deps } = this;
    if (deps.stopped()) return;
    const { shared, report } = deps;
    const config = deps.config();
    let client: KubeClient;
    let fingerprint: string;
    let lifetime: ReturnType<typeof credentialsLifetime>;
    try {
      const secret = await readCredentials(
        shared.client,
        config.linkNamespace,
        config.credentialsSecret,
        config.clusterName,
        deps.signal,
      );
      fingerprint = credentialsFingerprint(secret);
      if (!needsReconnect(this.current !== undefined, this.connectedWith, fingerprint)) {
        report.clearCredentialsError();
        return;
      }
      client = shared.remoteClient(secret);
      lifetime = credentialsLifetime(secret);
    } catch (err) {
      if (deps.stopped()) return;
      report.credentialsUnavailable(describeError(err), this.current !== undefined);
      if (this.current) return;
      // Nothing to list with: down (0, not absent), as RemoteAPIAvailable says with this reason.
      deps.metrics.remoteApiUp(false);
      throw err;
    }
    // stop() or a Link edit may have come while the Secret was read: connect on the newest config.
    if (deps.stopped() || config !== deps.config()) {
      client.close();
      deps.connectLater();
      return;
    }
    report.clearCredentialsError();
    if (this.current) shared.log.info(deps.logFields(), 'credentials changed: reconnecting');
    await this.disconnect();
    if (deps.stopped()) {
      client.close();
      return;
    }
    this.connectedWith = fingerprint;
    deps.metrics.lifetime(lifetime);
    this.said = carriedIdentity(this.said, fingerprint);
    this.start(client, config, fingerprint);
  }

  async disconnect(): Promise<void> {
    const remote = this.current;
    this.current = undefined;
    this.connectedWith = undefined;
    await remote?.stop();
  }

  /** Starts the remote informers with `client`, made from the credentials `fingerprint`. */
  private start(client: KubeClient, config: LinkConfig, fingerprint: string): void {
    const { shared, events, report } = this.deps;
    const carried = {
      ...(this.known ? { addresses: this.known.addresses } : {}),
      ...(this.said ? { before: this.said.identity } : {}),
    };
    const remote: RemoteCluster = new RemoteCluster(
      client,
      config,
      shared,
      {
        changed: (key) => events.changed(key, this.current === remote ? remote : undefined),
        listShrunk: (keys) => {
          if (this.current === remote) events.listShrunk(keys);
        },
        mirrored: (key) => events.mirrored(key),
        exported: (key, at) => {
          if (this.current === remote) events.exported(key, at);
        },
        synced: () => events.synced(remote, config),
        health: (connected, error, resource) => {
          if (this.current === remote) report.setRemoteApi(connected, error, resource);
        },
        identity: (identity) => {
          if (this.current !== remote) return;
          const named = namedBy(identity);
          if (named) this.said = { fingerprint, identity: named };
          report.setIdentity(identity, client.server, remote.isSynced);
        },
        gatewayAddresses: (addresses, fromService) => {
          if (this.current !== remote) return;
          const changed = !sameAddresses(this.known?.addresses, addresses);
          this.known = { addresses, fromService };
          // Not changed: the first listing confirmed what a previous connection found.
          if (!changed) return;
          shared.log.info({ ...this.deps.logFields(), addresses }, 'remote gateway address changed');
          events.gatewayMoved();
        },
      },
      carried,
    );
    this.current = remote;
    remote.start();
  }
}
