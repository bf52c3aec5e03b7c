/**
 * What the ingress (ingress.ts) is given: the peer admission and resolution it asks, the probe it
 * answers, and its limits; and the episodes at a limit it tells of.
 */

import type { X509Certificate } from 'node:crypto';
import type { Endpoint } from './balancer.js';
import type { TunnelSecureContext } from './tunnel-settings.js';

/** What `resolve` answers: candidates to dial, or the status to refuse with. */
export type TunnelResolution =
  | { ok: true; candidates: readonly Endpoint[] }
  | { ok: false; status: 400 | 403 | 503; reason: string };

export interface IngressOptions {
  host: string;
  port: number;
  secureContext: TunnelSecureContext;
  /**
   * Decides, after the handshake, whether the peer's identity (its SPIFFE URI SAN) may open
   * tunnels; its certificate and the issuer that signed it, for revocation checks.
   */
  authorizePeer: (
    identity: string | undefined,
    cert: X509Certificate | undefined,
    issuer: X509Certificate | undefined,
  ) => { ok: true; cluster: string } | { ok: false; reason: string };
  /**
   * `:authority` and the peer's cluster (from its verified identity) → endpoints; compose
   * parseAuthority with a ServiceIndex (see resolver.ts).
   */
  resolve: (authority: string, peerCluster: string) => TunnelResolution;
  /** GET <path> over the mTLS session → 200 / 503: the only non-CONNECT request answered. */
  probe: { path: string; isReady: () => boolean };
  /**
   * Why `endpoint`, which `resolve` offered, must not be dialled after all (one of this gateway's
   * own listeners: self-dial.ts), or null. Asked before each dial: a refused candidate is skipped
   * like one that refused the connection, so a CONNECT with none left gets 502.
   */
  refuseDial?: (endpoint: Endpoint) => string | null;
  /**
   * Told when the ingress starts refusing CONNECTs at `limits.maxTunnels` (`reached`) and when it
   * is back under 90 % of it, with the CONNECTs refused meanwhile: once per episode, not per refusal.
   */
  onTunnelLimit?: (event: TunnelLimitEvent) => void;
  /**
   * Told when the ingress starts closing new connections at `limits.maxHandshakes` (`reached`) and
   * when it is back under 90 % of it, with the connections closed meanwhile: once per episode.
   */
  onHandshakeLimit?: (event: TunnelLimitEvent) => void;
  /**
   * The peer clusters admitted here (Link targets, --allow-cluster): each is a sharer of
   * `limits.maxTunnels` even before it connects, with headroom kept free for it (tunnel-share.ts).
   * Read when the peers holding sessions change and at revalidate(). Without it, only the peers
   * present share.
   */
  admittedPeers?: () => Iterable<string>;
  limits?: {
    /** A TLS client that has not finished its handshake by then is cut (slowloris). Default 10 s. */
    handshakeTimeoutMs?: number;
    /**
     * TCP connections in their TLS handshake at once; a connection beyond it is closed on arrival
     * (a flood of connections that never finish a handshake). Default 1000.
     */
    maxHandshakes?: number;
    /**
     * An admitted TLS connection that has not sent the HTTP/2 preface and its SETTINGS by then
     * (after the handshake) is cut: a peer holding connections it does not use. Default: the
     * handshake timeout.
     */
    prefaceTimeoutMs?: number;
    /**
     * Tunnels open or dialling at once; a CONNECT beyond it gets 503 (a loop of tunnels, a flood).
     * Shared among peer clusters, work-conserving: a peer past its share may use what is free but
     * a small headroom kept for each other cluster under its share (tunnel-share.ts). Default:
     * unlimited.
     */
    maxTunnels?: number;
    /**
     * Established sessions one peer cluster may hold, and all peers together; a session beyond
     * either gets GOAWAY(ENHANCE_YOUR_CALM), published as SESSION_LIMIT. Defaults 32 and 1000
     * (session-caps.ts).
     */
    maxSessionsPerPeer?: number;
    maxSessions?: number;
    /**
     * A tunnel with no byte either way for this long is cut (its backend connection reset, the
     * stream reset with CONNECT_ERROR). Default: never (idle database connections are legitimate).
     */
    tunnelIdleTimeoutMs?: number;
    /**
     * The stream window advertised to peers: a tunnel's upload per round trip, and what a loaded
     * tunnel may hold here (config.ts, --ingress-stream-window). Default 1 MiB.
     */
    streamWindowBytes?: number;
    /** SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §6.5.2). Default 1000. */
    maxConcurrentStreams?: number;
    /** SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2). Default 16 KiB. */
    maxHeaderListSize?: number;
    /** Per backend dial. Default 5 s. */
    connectTimeoutMs?: number;
    /**
     * A session with no open stream for this long gets a GOAWAY (PINGs do not count as use).
     * Default: never; `isthmus gateway` sets 10 minutes.
     */
    idleSessionTimeoutMs?: number;
  };
}

/** An episode of `limits.maxTunnels`: its start (`refused` 1), and its end with the count refused. */
export interface TunnelLimitEvent {
  reached: boolean;
  limit: number;
  refused: number;
}
