import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  publishConnectError,
  publishHandshakeRejected,
  publishTunnelClose,
  publishTunnelOpen,
} from './diagnostics.js';
import {
  connectResult,
  createGatewayMetrics,
  type GatewayMetrics,
  handshakeResult,
  serviceOfAuthority,
} from './metrics.js';

describe('connectResult', () => {
  it.each([
    [200, '', 'success'],
    [400, '', 'bad_request'],
    [403, '', 'forbidden'],
    [502, '', 'bad_gateway'],
    [0, 'connect timed out', 'timeout'],
    [0, 'ECONNREFUSED', 'error'],
    [503, '', 'status_503'],
  ])('%i %s → %s', (status, reason, result) => {
    expect(connectResult(status, reason)).toBe(result);
  });

  it("counts the pool's deadlines (no session, no answer to CONNECT) as timeouts", () => {
    expect(connectResult(0, 'no session with 10.0.0.9:4143 within 5000 ms', 'GATEWAY_CONNECT_TIMEOUT')).toBe(
      'timeout',
    );
    expect(
      connectResult(
        0,
        'no answer to CONNECT a.b.svc.cluster.local:80 within 15000 ms',
        'GATEWAY_CONNECT_TIMEOUT',
      ),
    ).toBe('timeout');
  });

  it("counts another cluster's gateway at a mirror's address as unauthorized", () => {
    expect(connectResult(0, 'holds the gateway identity of cluster north', 'GATEWAY_IDENTITY_MISMATCH')).toBe(
      'unauthorized',
    );
  });

  it('counts a remote gateway that turns this one away (not linked there, revoked) as unauthorized', () => {
    expect(
      connectResult(0, "refused this cluster's gateway: cluster east is not linked", 'GATEWAY_REFUSED'),
    ).toBe('unauthorized');
  });

  it("counts a remote gateway whose certificate this gateway's own checks refuse (revoked, expired, foreign anchor) as unauthorized, not as a network error", () => {
    expect(
      connectResult(
        0,
        "gateway 10.0.0.9:4143 is not trusted: certificate serial 0A is revoked by its issuer's CRL",
        'GATEWAY_UNTRUSTED',
      ),
    ).toBe('unauthorized');
  });
});

/** The byte counts of a tunnel's TCP socket, as the metrics read them; set by the test. */
interface SocketBytes {
  bytesRead: number;
  bytesWritten: number;
  writableLength: number;
}
const socketWith = (bytes: Partial<SocketBytes> = {}): SocketBytes & Socket =>
  ({ bytesRead: 0, bytesWritten: 0, writableLength: 0, ...bytes }) as SocketBytes & Socket;

/** An egress tunnel to west ends after 10 bytes in and 32 out. */
function closeEgressTunnel(authority: string, socket: Socket = socketWith()): void {
  publishTunnelClose({
    direction: 'egress',
    peerCluster: 'west',
    authority,
    socket,
    endpoint: '10.0.0.9:51234',
    durationMs: 3,
    bytesIn: 10,
    bytesOut: 32,
    reset: false,
  });
}

describe('createGatewayMetrics', () => {
  const made: GatewayMetrics[] = [];
  afterEach(() => {
    for (const m of made.splice(0)) m.close();
  });
  const make = (): GatewayMetrics => {
    const m = createGatewayMetrics({ trustDomain: 'root.isthmus.dev' });
    made.push(m);
    return m;
  };

  it('counts tunnels from the diagnostics channels', async () => {
    const metrics = make();
    const egress = socketWith();
    publishTunnelOpen('egress', 'west', 'podinfo.test.svc.cluster.local:9898', 3.5, egress);
    publishTunnelOpen('ingress', 'east', 'podinfo.test.svc.cluster.local:9898', 0.25, socketWith());
    closeEgressTunnel('podinfo.test.svc.cluster.local:9898', egress);
    publishConnectError({
      direction: 'ingress',
      peerCluster: 'east',
      authority: 'x:1',
      status: 403,
      reason: 'no',
    });
    publishHandshakeRejected({
      reason: 'not linked',
      identity: 'spiffe://root.isthmus.dev/cluster/north/gateway',
    });

    const text = await metrics.render();
    expect(text).toContain(
      'isthmus_tunnel_connections_total{direction="egress",peer_cluster="west",result="success"} 1',
    );
    expect(text).toContain(
      'isthmus_tunnel_connections_total{direction="ingress",peer_cluster="east",result="forbidden"} 1',
    );
    expect(text).toContain(
      'isthmus_tunnel_connections_total{direction="ingress",peer_cluster="north",result="unauthorized"} 1',
    );
    expect(text).toContain('isthmus_tunnel_open{direction="egress"} 0');
    expect(text).toContain('isthmus_tunnel_open{direction="ingress"} 1');
    expect(text).toContain('isthmus_tunnel_bytes_total{direction="egress"} 42');
    // Each side's time to establish its tunnel (accept → 200 on the egress, CONNECT → dialled on
    // the ingress).
    expect(text).toContain('isthmus_tunnel_connect_duration_ms_count{direction="egress"} 1');
    expect(text).toContain('isthmus_tunnel_connect_duration_ms_sum{direction="egress"} 3.5');
    expect(text).toContain('isthmus_tunnel_connect_duration_ms_sum{direction="ingress"} 0.25');
    expect(text).toContain('isthmus_tunnel_connect_duration_ms_bucket{le="5",direction="egress"} 1');
    expect(text).toContain('isthmus_tunnel_connect_duration_ms_bucket{le="2.5",direction="egress"} 0');
  });

  it('counts per Service only what names an exported or mirrored Service', async () => {
    const metrics = make();
    const podinfo = 'podinfo.test.svc.cluster.local:9898';
    const egress = socketWith();
    publishTunnelOpen('egress', 'west', podinfo, 1, egress);
    publishTunnelOpen('ingress', 'east', 'web-0.db.shop.svc.cluster.local:5432', 1, socketWith());
    closeEgressTunnel(podinfo, egress);
    publishConnectError({
      direction: 'egress',
      peerCluster: 'west',
      authority: podinfo,
      status: 0,
      reason: 'ECONNREFUSED',
    });
    publishConnectError({
      direction: 'ingress',
      peerCluster: 'east',
      authority: podinfo,
      status: 503,
      reason: 'no ready endpoint',
    });
    // What a peer may send freely never becomes a label value.
    for (const status of [400, 403]) {
      publishConnectError({
        direction: 'ingress',
        peerCluster: 'east',
        authority: `random-${status}.ns.svc.cluster.local:1`,
        status,
        reason: 'no',
      });
    }
    const text = await metrics.render();
    const series = text.split('\n').filter((l) => l.startsWith('isthmus_service_'));
    expect(series).toEqual([
      'isthmus_service_tunnels_total{direction="egress",peer_cluster="west",namespace="test",service="podinfo",result="success"} 1',
      'isthmus_service_tunnels_total{direction="ingress",peer_cluster="east",namespace="shop",service="db",result="success"} 1',
      'isthmus_service_tunnels_total{direction="egress",peer_cluster="west",namespace="test",service="podinfo",result="error"} 1',
      'isthmus_service_tunnels_total{direction="ingress",peer_cluster="east",namespace="test",service="podinfo",result="status_503"} 1',
      'isthmus_service_tunnel_bytes_total{direction="egress",namespace="test",service="podinfo"} 42',
    ]);
  });

  it('counts the bytes of an open tunnel at each scrape, and at its close only the rest', async () => {
    const metrics = make();
    const podinfo = 'podinfo.test.svc.cluster.local:9898';
    const bytes = async (): Promise<string[]> =>
      (await metrics.render())
        .split('\n')
        .filter((l) => /^isthmus_(service_)?tunnel_bytes_total\{direction="egress"/.test(l));
    const socket = socketWith();
    publishTunnelOpen('egress', 'west', podinfo, 1, socket);
    Object.assign(socket, { bytesRead: 100, bytesWritten: 40 });
    expect(await bytes()).toEqual([
      'isthmus_tunnel_bytes_total{direction="egress"} 140',
      'isthmus_service_tunnel_bytes_total{direction="egress",namespace="test",service="podinfo"} 140',
    ]);
    // Queued and not yet written out (a reset would drop it): not counted yet.
    Object.assign(socket, { bytesWritten: 1_040, writableLength: 1_000 });
    expect(await bytes()).toEqual([
      'isthmus_tunnel_bytes_total{direction="egress"} 140',
      'isthmus_service_tunnel_bytes_total{direction="egress",namespace="test",service="podinfo"} 140',
    ]);
    Object.assign(socket, { writableLength: 0 });
    expect(await bytes()).toEqual([
      'isthmus_tunnel_bytes_total{direction="egress"} 1140',
      'isthmus_service_tunnel_bytes_total{direction="egress",namespace="test",service="podinfo"} 1140',
    ]);
    publishTunnelClose({
      direction: 'egress',
      peerCluster: 'west',
      authority: podinfo,
      socket,
      durationMs: 9,
      bytesIn: 300,
      bytesOut: 1_040,
      reset: false,
    });
    // The socket is no longer read: later scrapes see the same totals.
    Object.assign(socket, { bytesRead: 5_000 });
    for (let scrape = 0; scrape < 2; scrape++) {
      expect(await bytes()).toEqual([
        'isthmus_tunnel_bytes_total{direction="egress"} 1340',
        'isthmus_service_tunnel_bytes_total{direction="egress",namespace="test",service="podinfo"} 1340',
      ]);
    }
  });

  it('never takes back bytes a scrape counted, and counts a tunnel it never saw open at its close', async () => {
    const metrics = make();
    const socket = socketWith({ bytesRead: 50 });
    publishTunnelOpen('ingress', 'east', 'a:1', 1, socket);
    expect(await metrics.render()).toContain('isthmus_tunnel_bytes_total{direction="ingress"} 50');
    const close = {
      direction: 'ingress',
      peerCluster: 'east',
      authority: 'a:1',
      durationMs: 1,
      reset: true,
    } as const;
    publishTunnelClose({ ...close, socket, bytesIn: 20, bytesOut: 0 });
    expect(await metrics.render()).toContain('isthmus_tunnel_bytes_total{direction="ingress"} 50');
    publishTunnelClose({ ...close, socket: socketWith(), bytesIn: 7, bytesOut: 3 });
    expect(await metrics.render()).toContain('isthmus_tunnel_bytes_total{direction="ingress"} 60');
  });

  it.each([
    ['ECONNRESET', undefined],
    ['EPIPE', undefined],
    // No client certificate at all: a TLS probe, a load balancer's TLS check, a scanner. Not a peer
    // gateway, so not counted with the refused ones.
    ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'no_client_certificate'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unauthorized'],
    ['CERT_HAS_EXPIRED', 'unauthorized'],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', 'timeout'],
    ['cluster north is not linked', 'unauthorized'],
  ])('a handshake ended by %s counts as %s', async (reason, result) => {
    const metrics = make();
    publishHandshakeRejected({ reason });
    const counted = (await metrics.render())
      .split('\n')
      .filter((l) => l.startsWith('isthmus_tunnel_connections_total{'));
    expect(counted).toEqual(
      result === undefined
        ? []
        : [
            `isthmus_tunnel_connections_total{direction="ingress",peer_cluster="unknown",result="${result}"} 1`,
          ],
    );
    if (result !== undefined) expect(handshakeResult(reason)).toBe(result);
  });

  it.each([
    ['podinfo.test.svc.cluster.local:9898', { namespace: 'test', service: 'podinfo' }],
    ['web-0.db.shop.svc.example.org:5432', { namespace: 'shop', service: 'db' }],
    ['PodInfo.Test.svc.cluster.local.:9898', { namespace: 'test', service: 'podinfo' }],
    ['x:1', undefined],
    ['a.b.c.d.svc.cluster.local:1', undefined],
  ])('serviceOfAuthority(%s)', (authority, want) => {
    expect(serviceOfAuthority(authority)).toEqual(want);
  });

  it('reports the CRL in force and refused updates, from 0 on the first scrape', async () => {
    const metrics = make();
    const first = await metrics.render();
    expect(first).toContain('isthmus_gateway_crl_revoked_certificates 0');
    expect(first).toContain('isthmus_gateway_crl_reloads_total{result="refused"} 0');
    metrics.crlReloaded('ok', 3);
    metrics.crlReloaded('refused');
    const text = await metrics.render();
    expect(text).toContain('isthmus_gateway_crl_revoked_certificates 3');
    expect(text).toContain('isthmus_gateway_crl_reloads_total{result="ok"} 1');
    expect(text).toContain('isthmus_gateway_crl_reloads_total{result="refused"} 1');
  });

  it('counts the egress ports that could not be bound at the last apply, 0 from the first scrape', async () => {
    const metrics = make();
    const failures = async () =>
      (await metrics.render()).split('\n').find((l) => l.startsWith('isthmus_egress_listen_failures '));
    expect(await failures()).toBe('isthmus_egress_listen_failures 0');
    metrics.egressListenFailures(2);
    expect(await failures()).toBe('isthmus_egress_listen_failures 2');
    metrics.egressListenFailures(0);
    expect(await failures()).toBe('isthmus_egress_listen_failures 0');
  });

  // The counter's increase ends 15 minutes after a refusal while the refused file stays on disk (and
  // the next restart fails on it): the gauge says so for as long as it lasts.
  it('says while the CRL file on disk is one the gateway refused, until a good one loads', async () => {
    const metrics = make();
    const refused = async () =>
      (await metrics.render()).split('\n').find((l) => l.startsWith('isthmus_gateway_crl_file_refused '));
    expect(await refused()).toBe('isthmus_gateway_crl_file_refused 0');
    metrics.crlReloaded('ok', 3);
    expect(await refused()).toBe('isthmus_gateway_crl_file_refused 0');
    metrics.crlReloaded('refused');
    expect(await refused()).toBe('isthmus_gateway_crl_file_refused 1');
    metrics.crlReloaded('refused');
    expect(await refused()).toBe('isthmus_gateway_crl_file_refused 1');
    metrics.crlReloaded('ok', 4);
    expect(await refused()).toBe('isthmus_gateway_crl_file_refused 0');
  });

  it('has no certificate expiry before the first certificate (a 0 would read as long expired)', async () => {
    const metrics = make();
    const certificate = async (): Promise<string[]> =>
      (await metrics.render()).split('\n').filter((l) => l.startsWith('isthmus_gateway_certificate_'));
    expect(await certificate()).toEqual([
      'isthmus_gateway_certificate_renewals_total{result="ok"} 0',
      'isthmus_gateway_certificate_renewals_total{result="error"} 0',
      'isthmus_gateway_certificate_valid 0',
    ]);
    metrics.certificateRenewed('error');
    metrics.certificateRenewed('ok', { notBefore: new Date(1_000_000), notAfter: new Date(87_400_000) });
    expect(await certificate()).toEqual([
      'isthmus_gateway_certificate_expiration_timestamp_seconds 87400',
      'isthmus_gateway_certificate_lifetime_seconds 86400',
      'isthmus_gateway_certificate_renewals_total{result="ok"} 1',
      'isthmus_gateway_certificate_renewals_total{result="error"} 1',
      // A day in 1970: long expired.
      'isthmus_gateway_certificate_valid 0',
    ]);
  });

  it('keeps registries apart and stops counting once closed', async () => {
    const a = make();
    const b = make();
    b.close();
    publishTunnelOpen('egress', 'west', 'a:1', 1, socketWith());
    expect(await a.render()).toContain('peer_cluster="west",result="success"} 1');
    expect(await b.render()).not.toContain('peer_cluster="west"');
  });
});
