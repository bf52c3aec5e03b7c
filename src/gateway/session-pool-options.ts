/**
 * What the session pool (session-pool.ts) is told when it is made: its certificate, how it checks
 * the remote's, its deadlines and backoff, and where else a gateway may be reached.
 */
import type { X509Certificate } from 'node:crypto';
import type { GatewayAddress } from './pooled-session.js';
import type { TunnelSecureContext } from './tunnel-settings.js';

export interface SessionPoolOptions {
  secureContext: () => TunnelSecureContext;
  /** Checks the remote gateway's SPIFFE identity; without it any certificate chaining to the anchor is accepted. */
  expectPeer?: (identity: string | undefined) => boolean;
  /**
   * Why the remote's certificate must be refused though its chain verified (revoked), or
   * undefined; asked at each handshake and again by revalidate().
   */
  checkPeerCertificate?: (leaf: X509Certificate, issuer: X509Certificate | undefined) => string | undefined;
  /** TCP + TLS + the peer's SETTINGS. Default 5 s. */
  connectTimeoutMs?: number;
  /** From CONNECT sent to the remote's answer (it dials the backend meanwhile). Default 15 s. */
  responseTimeoutMs?: number;
  /** Reconnect backoff after a failed connect: base × 2^(failures-1), capped, with full jitter. */
  backoff?: { baseMs?: number; maxMs?: number };
  /**
   * Every this often an established session is PINGed; no answer within the same time and it is
   * dropped, so a peer that vanished without a FIN (node lost, network partition) fails new tunnels
   * fast instead of swallowing them until the response timeout. Default 10 s; 0 disables.
   */
  keepaliveMs?: number;
  /**
   * A CONNECT unanswered this long makes its session suspect: it is PINGed, and dropped when no
   * answer (and no byte at all) comes within `pingTimeoutMs`. Defaults SUSPECT_AFTER_MS and
   * PING_TIMEOUT_MS (session-liveness.ts); 0 disables suspicion.
   */
  suspectAfterMs?: number;
  pingTimeoutMs?: number;
  /**
   * Every address of the gateway at `gateway` for `cluster`, in the order to try them, `gateway`
   * among them (gateway-failover.ts `gatewayAddressesOf`, from the Links): when `gateway` gives no
   * session because nothing answers there, a tunnel or probe expecting `cluster` tries the others.
   * Only addresses a Link names may be returned. Without it, only `gateway` is dialled.
   */
  gatewayAddresses?: (gateway: GatewayAddress, cluster: string) => GatewayAddress[];
}
