/**
 * The gateway's Prometheus metrics (names from shared/DESIGN.md, "Metrics"). The tunnel hot path
 * publishes on node:diagnostics_channel (diagnostics.ts); this module subscribes and counts, so the
 * data path neither counts nor logs inline (STYLE.md §9). Each gateway gets its own Registry rather
 * than prom-client's global one, so several gateways can run in one test process.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { registerBuildInfo } from '../build-info.js';
import { SESSION_EXPIRED_CHANNEL, type SessionExpiredMessage } from './certificate-expiry.js';
import { type CertificateMetrics, certificateMetrics } from './certificate-metrics.js';
import {
  CHANNELS,
  type ConnectErrorMessage,
  clientHungUp,
  HANDSHAKE_LIMIT,
  type HandshakeRejectedMessage,
  noClientCertificate,
  notTls,
  PREFACE_TIMEOUT,
  type SessionDialMessage,
  type SessionErrorMessage,
  type TunnelCloseMessage,
  type TunnelOpenMessage,
} from './diagnostics.js';
import { gatewayClusterOf } from './peers.js';
import { SESSION_LIMIT } from './session-caps.js';

/** The `result` label of isthmus_tunnel_connections_total. */
export type ConnectResult =
  | 'success'
  | 'bad_request'
  | 'forbidden'
  | 'bad_gateway'
  | 'unauthorized'
  | 'no_client_certificate'
  | 'not_tls'
  | 'handshake_limit'
  | 'session_limit'
  | 'session_expired'
  | 'not_linked'
  | 'timeout'
  | 'error'
  | `status_${number}`;

/**
 * Maps a CONNECT outcome to a bounded label value. Statuses per shared/DESIGN.md ("The tunnel"):
 * 400 malformed, 403 not exported, 502 target refused; 0 means no HTTP answer at all. An egress
 * that found another cluster's gateway at the mirror's address (`code` GATEWAY_IDENTITY_MISMATCH)
 * counts it as unauthorized, like the ingress counts a peer it refuses (and as a remote ingress that
 * refused this gateway, GATEWAY_REFUSED, and as a remote whose certificate this gateway's own checks
 * refuse: revoked, expired, under another anchor, GATEWAY_UNTRUSTED); one that ran out of time
 * (GATEWAY_CONNECT_TIMEOUT) as a timeout. A tunnel the egress refused because its cluster was just
 * unlinked (GATEWAY_NOT_LINKED) is `not_linked`, left out of the tunnel error alert.
 */
export function connectResult(status: number, reason = '', code?: string): ConnectResult {
  if (code === 'GATEWAY_IDENTITY_MISMATCH' || code === 'GATEWAY_REFUSED' || code === 'GATEWAY_UNTRUSTED')
    return 'unauthorized';
  // The pool's own deadlines (no session, no answer to CONNECT) say "within N ms", not "timed out".
  if (code === 'GATEWAY_CONNECT_TIMEOUT') return 'timeout';
  if (code === 'GATEWAY_NOT_LINKED') return 'not_linked';
  switch (status) {
    case 200:
      return 'success';
    case 400:
      return 'bad_request';
    case 403:
      return 'forbidden';
    case 502:
      return 'bad_gateway';
    case 0:
      return /timed? ?out|timeout/i.test(reason) ? 'timeout' : 'error';
    default:
      return `status_${status}`;
  }
}

/**
 * The `result` of a handshake the ingress refused. A client that keeps its connection open without
 * finishing the handshake within the ingress's handshake timeout (10 s) is no health check (those
 * close at once): it is a slowloris, or a peer whose handshake stalls in the network (a path-MTU
 * black hole eating the certificate flight). Either way no tunnel could open, so it counts, as a
 * `timeout`: the peer was never judged, and `unauthorized` would send the operator to look at
 * certificates. A client that sent no certificate at all is no peer gateway (`noClientCertificate`:
 * a TLS probe, a load balancer's TLS check, a scanner): `no_client_certificate`, which the tunnel
 * error alert leaves out, since under `unknown` it is a 100 % failure ratio; so is a connection that
 * speaks no TLS at all (`notTls`: a plain-HTTP or TCP-payload health check, a scanner): `not_tls`.
 * A connection closed on arrival because `maxHandshakes` were already under way is
 * `handshake_limit`: a flood, which may have kept a peer out, so the alert counts it. A session of
 * an admitted peer turned away at `--max-sessions-per-peer` or `--max-sessions` is `session_limit`
 * (counted by the alert too: a peer that holds that many sessions is broken or hostile). A session
 * ended at its peer certificate's notAfter is `session_expired` (not from here: its own channel,
 * certificate-expiry.ts), routine and left out of the alert.
 */
export function handshakeResult(reason: string): ConnectResult {
  // An admitted peer that then sent no HTTP/2 preface in time stalled the same way.
  if (reason === 'ERR_TLS_HANDSHAKE_TIMEOUT' || reason === PREFACE_TIMEOUT) return 'timeout';
  if (reason === HANDSHAKE_LIMIT) return 'handshake_limit';
  if (reason === SESSION_LIMIT) return 'session_limit';
  if (notTls({ reason })) return 'not_tls';
  return noClientCertificate({ reason }) ? 'no_client_certificate' : 'unauthorized';
}

/**
 * The Service a tunnel's `:authority` names (`[<hostname>.]<svc>.<ns>.svc.<domain>:<port>`), for
 * per-service labels. Label values must stay bounded, so callers use it only for authorities that
 * resolved to an exported Service (ingress) or came from a mirror's route (egress).
 */
export function serviceOfAuthority(
  authority: string | undefined,
): { namespace: string; service: string } | undefined {
  // DNS names are case-insensitive and the resolver accepts any case: one Service, one label value.
  const name = authority?.toLowerCase();
  const at = name?.indexOf('.svc.') ?? -1;
  if (name === undefined || at < 0) return undefined;
  const local = name.slice(0, at).split('.');
  if (local.length < 2 || local.length > 3) return undefined;
  return { namespace: local[local.length - 1]!, service: local[local.length - 2]! };
}

/**
 * Ingress outcomes reached only after the authority resolved to an exported Service: 503 (no ready
 * endpoint) and 502 (none accepted). A 400 or 403 may name anything a peer sent, so it is never a
 * label value; every egress authority comes from a mirror's route.
 */
function namesKnownService(direction: string, status: number): boolean {
  return direction === 'egress' || status === 502 || status === 503;
}

/** Latency buckets in ms: a loopback CONNECT takes ~1 ms, a cross-region one 100+ ms. */
const CONNECT_DURATION_BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/** Label children of one (direction, peer cluster, authority); see `seriesOf`. */
interface TunnelSeries {
  success: Counter.Internal;
  serviceSuccess: Counter.Internal | undefined;
  open: Gauge.Internal<'direction'>;
  connectDuration: Histogram.Internal<'direction'>;
  bytes: Counter.Internal;
  serviceBytes: Counter.Internal | undefined;
}
const MAX_CACHED_SERIES = 4096;

/** A tunnel between its open and close messages, and the bytes of it already counted. */
interface OpenTunnel {
  series: TunnelSeries;
  counted: number;
}

/**
 * The bytes that crossed a tunnel's TCP socket so far, both ways: read, and written out. What is
 * still queued (`writableLength`: buffered, or being written) is left for a later scrape, since a
 * reset may drop it and the close message's count would then leave it out; so this never exceeds
 * what the close message will say, and it only grows.
 */
function bytesSoFar(socket: Socket): number {
  return socket.bytesRead + socket.bytesWritten - socket.writableLength;
}

export interface GatewayMetricsOptions {
  /** Process metrics (CPU, memory, event loop); off in tests that run many gateways in one process. */
  processMetrics?: boolean;
  trustDomain?: string;
}

export interface GatewayMetrics {
  readonly registry: Registry;
  /** Prometheus text exposition of every metric in the registry. */
  render(): Promise<string>;
  /**
   * A CRL file was loaded (`revoked` serials now in force) or an update of it was refused. A refusal
   * sets isthmus_gateway_crl_file_refused to 1 until the next load: the file on disk is one this
   * gateway refused, and the next start fails on it.
   */
  crlReloaded(result: 'ok' | 'refused', revoked?: number): void;
  /** A gateway certificate was taken into use, or a fetch of one failed (certificate-metrics.ts). */
  certificateRenewed: CertificateMetrics['renewed'];
  /** A CRL load refused the gateway's own certificate (own-certificate-revocation.ts). */
  ownCertificateRevoked: CertificateMetrics['ownRevoked'];
  ownCertificateRevokedWhile: CertificateMetrics['revokedWhile'];
  /** The egress ports admitted but not listened on (bind failed) after the mirror watcher's last apply. */
  egressListenFailures(ports: number): void;
  /** Unsubscribes from the diagnostics channels. */
  close(): void;
}

export function createGatewayMetrics(options: GatewayMetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  registerBuildInfo(registry);
  /**
   * Tunnels open now, by their TCP socket. The byte counters read each one's growth at every scrape
   * (their `collect`), so a long-lived tunnel (gRPC, a database pool) shows its traffic as it flows,
   * not as one spike when it closes, and the data path still counts nothing per chunk
   * (bench/gateway-analysis.md): a scrape costs a few getters per open tunnel. The close message
   * adds what is left, so each byte is counted once.
   */
  const openTunnels = new Map<Socket, OpenTunnel>();
  const addBytes = (s: TunnelSeries, n: number): void => {
    s.bytes.inc(n);
    s.serviceBytes?.inc(n);
  };
  const countOpenTunnels = (): void => {
    for (const [socket, tunnel] of openTunnels) {
      const sofar = bytesSoFar(socket);
      if (sofar <= tunnel.counted) continue;
      addBytes(tunnel.series, sofar - tunnel.counted);
      tunnel.counted = sofar;
    }
  };
  const connections = new Counter({
    name: 'isthmus_tunnel_connections_total',
    help: 'Tunnel connection attempts by direction, peer cluster and result.',
    labelNames: ['direction', 'peer_cluster', 'result'] as const,
    registers: [registry],
  });
  const open = new Gauge({
    name: 'isthmus_tunnel_open',
    help: 'Tunnels currently open, by direction.',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'isthmus_tunnel_bytes_total',
    help: 'Bytes carried through tunnels (both ways, counted on the TCP side), by direction.',
    labelNames: ['direction'] as const,
    registers: [registry],
    collect: countOpenTunnels,
  });
  const connectDuration = new Histogram({
    name: 'isthmus_tunnel_connect_duration_ms',
    help: 'Time from accepting a connection to the tunnel being established, in milliseconds.',
    labelNames: ['direction'] as const,
    buckets: CONNECT_DURATION_BUCKETS_MS,
    registers: [registry],
  });
  const serviceTunnels = new Counter({
    name: 'isthmus_service_tunnels_total',
    help: 'Tunnels by the Service they lead to (egress: the remote Service of a mirror; ingress: the exported Service), peer cluster and result.',
    labelNames: ['direction', 'peer_cluster', 'namespace', 'service', 'result'] as const,
    registers: [registry],
  });
  const serviceBytes = new Counter({
    name: 'isthmus_service_tunnel_bytes_total',
    help: 'Bytes carried through tunnels (both ways, counted on the TCP side), by direction and Service.',
    labelNames: ['direction', 'namespace', 'service'] as const,
    registers: [registry],
    // Either counter may be read alone; the second call of a scrape finds next to nothing new.
    collect: countOpenTunnels,
  });
  const crlRevoked = new Gauge({
    name: 'isthmus_gateway_crl_revoked_certificates',
    help: 'Serials revoked by the CRLs in force (--crl-file); 0 without one.',
    registers: [registry],
  });
  const crlReloads = new Counter({
    name: 'isthmus_gateway_crl_reloads_total',
    help: 'CRL file loads: ok, or refused (malformed or vanished; the list in force stays).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  // A counter's increase over a window ends while the refused file stays in place, a fault that
  // lasts until the file is fixed (a restart fails on an unreadable one, and takes a rollback or a
  // drop, lifting revocations): this says it for as long as it lasts.
  const crlFileRefused = new Gauge({
    name: 'isthmus_gateway_crl_file_refused',
    help: "Whether the CRL file on disk (--crl-file) is one this gateway refused (1: the list in force is an older one; a new revocation in the file is not applied). Fix the isthmus-crl ConfigMap, do not restart to clear it: a restart fails on a file it cannot read, and takes one refused as a rollback or for dropping a usable CA's CRL, admitting again what that lifts. Expected during step 3 of an anchor rotation until the gateway restarts on the new anchor alone. Else 0.",
    registers: [registry],
  });
  // Bounded: the peer cluster is a mirror's (a linked cluster), or "unknown" for a dial no tunnel asked for.
  const sessionDials = new Counter({
    name: 'isthmus_tunnel_session_dials_total',
    help: "The egress's dials of an mTLS session to a remote gateway, by the peer cluster its mirrors name and result (success, unauthorized: refused by the remote or by this gateway's checks, timeout, error). Failures while tunnels succeed mean a remote refuses this gateway's rotated certificate and the previous one still serves.",
    labelNames: ['peer_cluster', 'result'] as const,
    registers: [registry],
  });
  // Bounded: only admitted peers (a certificate of this trust anchor, a linked cluster) have a session.
  const sessionErrors = new Counter({
    name: 'isthmus_tunnel_session_errors_total',
    help: 'HTTP/2 sessions of admitted peer gateways ended for a flood or a protocol violation (rapid_reset, flood, continuation_flood, invalid_frames, protocol_error), by direction and peer cluster.',
    labelNames: ['direction', 'peer_cluster', 'reason'] as const,
    registers: [registry],
  });
  // A port another process holds is retried every few seconds and otherwise invisible to alerts.
  const egressListenFailures = new Gauge({
    name: 'isthmus_egress_listen_failures',
    help: 'Egress ports of admitted mirror routes that the gateway could not listen on (EADDRINUSE, say) at its last apply; retried every 5 s. Non-zero: callers of those mirrors are refused.',
    registers: [registry],
  });
  const certificates = certificateMetrics(registry);
  egressListenFailures.set(0);
  crlRevoked.set(0);
  crlFileRefused.set(0);
  for (const result of ['ok', 'refused']) crlReloads.inc({ result }, 0);
  // Both directions appear from the first scrape, so dashboards and alerts see a 0, not a gap.
  for (const direction of ['ingress', 'egress']) {
    open.set({ direction }, 0);
    bytes.inc({ direction }, 0);
  }
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry });

  /** One tunnel outcome, in the totals and, when the authority names a Service, per Service. */
  const countTunnel = (
    direction: string,
    peer: string,
    result: string,
    svc: ReturnType<typeof serviceOfAuthority>,
  ): void => {
    connections.inc({ direction, peer_cluster: peer, result });
    if (svc) serviceTunnels.inc({ direction, peer_cluster: peer, ...svc, result });
  };

  /**
   * The label children one (direction, peer, authority) updates per tunnel, bound once: prom-client
   * hashes a labels object on every labelled call, six per tunnel. In a profile of the egress under
   * `Connection: close` load, publishing the tunnel messages (these handlers) was ~2 % of its busy
   * time; two A/B runs could not tell the difference from noise (±15–40 µs per ~300 µs connection).
   * Authorities of opened tunnels are exported Services or mirrors' routes, so the keys are few; the
   * bound only guards against a surprise.
   */
  const series = new Map<string, TunnelSeries>();
  const seriesOf = (direction: string, peer: string, authority: string): TunnelSeries => {
    const key = `${direction}\n${peer}\n${authority}`;
    let found = series.get(key);
    if (!found) {
      if (series.size >= MAX_CACHED_SERIES) series.clear();
      const svc = serviceOfAuthority(authority);
      found = {
        success: connections.labels({ direction, peer_cluster: peer, result: 'success' }),
        serviceSuccess:
          svc && serviceTunnels.labels({ direction, peer_cluster: peer, ...svc, result: 'success' }),
        open: open.labels({ direction }),
        connectDuration: connectDuration.labels({ direction }),
        bytes: bytes.labels({ direction }),
        serviceBytes: svc && serviceBytes.labels({ direction, ...svc }),
      };
      series.set(key, found);
    }
    return found;
  };

  const onOpen = (raw: unknown): void => {
    const msg = raw as TunnelOpenMessage;
    const s = seriesOf(msg.direction, msg.peerCluster, msg.authority);
    s.success.inc();
    s.serviceSuccess?.inc();
    s.open.inc();
    s.connectDuration.observe(msg.connectMs);
    openTunnels.set(msg.socket, { series: s, counted: 0 });
  };
  const onClose = (raw: unknown): void => {
    const msg = raw as TunnelCloseMessage;
    const tunnel = openTunnels.get(msg.socket);
    // No open entry: the tunnel opened before these metrics subscribed, and nothing of it is counted.
    const s = tunnel?.series ?? seriesOf(msg.direction, msg.peerCluster, msg.authority);
    openTunnels.delete(msg.socket);
    s.open.dec();
    const rest = msg.bytesIn + msg.bytesOut - (tunnel?.counted ?? 0);
    if (rest > 0) addBytes(s, rest);
  };
  const onConnectError = (raw: unknown): void => {
    const msg = raw as ConnectErrorMessage;
    const svc = namesKnownService(msg.direction, msg.status) ? serviceOfAuthority(msg.authority) : undefined;
    countTunnel(
      msg.direction,
      msg.peerCluster ?? 'unknown',
      connectResult(msg.status, msg.reason, msg.code),
      svc,
    );
  };
  // A refused handshake is an ingress attempt too, and the metric says which peer tried. A client
  // that hung up before the handshake finished was refused by no one (the log agrees: debug), and
  // load balancers' TCP health checks alone would trip the tunnel error alert of a healthy cluster.
  const onHandshakeRejected = (raw: unknown): void => {
    const msg = raw as HandshakeRejectedMessage;
    if (clientHungUp(msg)) return;
    const peer =
      msg.identity !== undefined && options.trustDomain !== undefined
        ? (gatewayClusterOf(msg.identity, options.trustDomain) ?? 'unknown')
        : 'unknown';
    connections.inc({ direction: 'ingress', peer_cluster: peer, result: handshakeResult(msg.reason) });
  };

  // A peer's session ended at its certificate's notAfter: routine after each rotation of the peer,
  // its own result so that the tunnel error alert leaves it out.
  const onSessionExpired = (raw: unknown): void => {
    const msg = raw as SessionExpiredMessage;
    connections.inc({ direction: 'ingress', peer_cluster: msg.peerCluster, result: 'session_expired' });
  };

  const onSessionDial = (raw: unknown): void => {
    const msg = raw as SessionDialMessage;
    sessionDials.inc({
      peer_cluster: msg.peerCluster ?? 'unknown',
      result: msg.ok ? 'success' : connectResult(0, msg.reason, msg.code),
    });
  };

  const onSessionError = (raw: unknown): void => {
    const msg = raw as SessionErrorMessage;
    sessionErrors.inc({ direction: 'ingress', peer_cluster: msg.peerCluster, reason: msg.reason });
  };

  const subscriptions: Array<[string, (msg: unknown, name: string | symbol) => void]> = [
    [CHANNELS.tunnelOpen, onOpen],
    [CHANNELS.tunnelClose, onClose],
    [CHANNELS.connectError, onConnectError],
    [CHANNELS.handshakeRejected, onHandshakeRejected],
    [CHANNELS.sessionError, onSessionError],
    [CHANNELS.sessionDial, onSessionDial],
    [SESSION_EXPIRED_CHANNEL, onSessionExpired],
  ];
  for (const [name, fn] of subscriptions) diagnosticsChannel.subscribe(name, fn);

  let closed = false;
  return {
    registry,
    render: () => registry.metrics(),
    crlReloaded(result, revoked) {
      crlReloads.inc({ result });
      crlFileRefused.set(result === 'refused' ? 1 : 0);
      if (revoked !== undefined) crlRevoked.set(revoked);
    },
    egressListenFailures: (ports) => egressListenFailures.set(ports),
    certificateRenewed: certificates.renewed,
    ownCertificateRevoked: certificates.ownRevoked,
    ownCertificateRevokedWhile: certificates.revokedWhile,
    close() {
      if (closed) return;
      closed = true;
      for (const [name, fn] of subscriptions) diagnosticsChannel.unsubscribe(name, fn);
      openTunnels.clear();
    },
  };
}
