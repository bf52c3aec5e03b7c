/**
 * What a RemoteCluster (remote-cluster.ts) tells the LinkWatcher, and what it is made with.
 */
import type { NamedIdentity, RemoteIdentity } from './remote-identity.js';

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
