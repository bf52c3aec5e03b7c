import { afterEach, describe, expect, it } from 'vitest';
import {
  publishConnectError,
  publishHandshakeRejected,
  publishTunnelClose,
  publishTunnelOpen,
} from './diagnostics.js';
import { connectResult, createGatewayMetrics, type GatewayMetrics, serviceOfAuthority } from './metrics.js';

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
});

/** An egress tunnel to west ends after 10 bytes in and 32 out. */
function closeEgressTunnel(authority: string): void {
  publishTunnelClose({
    direction: 'egress',
    peerCluster: 'west',
    authority,
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
    publishTunnelOpen('egress', 'west', 'podinfo.test.svc.cluster.local:9898', 3.5);
    publishTunnelOpen('ingress', 'east', 'podinfo.test.svc.cluster.local:9898', 0.25);
    closeEgressTunnel('podinfo.test.svc.cluster.local:9898');
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
    publishTunnelOpen('egress', 'west', podinfo, 1);
    publishTunnelOpen('ingress', 'east', 'web-0.db.shop.svc.cluster.local:5432', 1);
    closeEgressTunnel(podinfo);
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

  it('keeps registries apart and stops counting once closed', async () => {
    const a = make();
    const b = make();
    b.close();
    publishTunnelOpen('egress', 'west', 'a:1', 1);
    expect(await a.render()).toContain('peer_cluster="west",result="success"} 1');
    expect(await b.render()).not.toContain('peer_cluster="west"');
  });
});
