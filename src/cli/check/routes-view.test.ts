import { describe, expect, it } from 'vitest';
import { type RoutesFacts, renderRoutesTable, routeRows } from './routes-view.js';

const route = (port: number, host: string) => ({
  port,
  remote: { host, port: 4143 },
  authority: `podinfo.test.svc.cluster.local:${port - 10101}`,
  mirror: 'test/podinfo-west',
});

describe('routeRows', () => {
  it('lists every listener of every answering pod, by pod then port, IPv6 gateways bracketed', () => {
    const rows = routeRows([
      { pod: 'isthmus-gateway-b', routes: [route(20001, 'fd00::7'), route(20000, '198.51.100.7')] },
      { pod: 'isthmus-gateway-a', routes: [route(20000, '198.51.100.7')] },
      { pod: 'isthmus-gateway-c' },
    ]);
    expect(rows.map((r) => [r.pod, r.port, r.remoteGateway])).toEqual([
      ['isthmus-gateway-a', 20000, '198.51.100.7:4143'],
      ['isthmus-gateway-b', 20000, '198.51.100.7:4143'],
      ['isthmus-gateway-b', 20001, '[fd00::7]:4143'],
    ]);
    const table = renderRoutesTable(rows, { pods: [], mirrors: { ok: true, value: [] } });
    expect(table.split('\n')[0]).toMatch(/^GATEWAY POD\s+PORT\s+MIRROR\s+AUTHORITY\s+REMOTE GATEWAY$/);
    expect(table).toMatch(
      /isthmus-gateway-b\s+20001\s+test\/podinfo-west\s+podinfo\.test\.svc\.cluster\.local:9900\s+\[fd00::7\]:4143/,
    );
  });
});

describe('no egress routes: what was found instead', () => {
  const GW = 'isthmus-gateway-7d9f-abcde';
  const none = (facts: RoutesFacts) => renderRoutesTable([], facts);

  it('a mirror, and a gateway pod running but not ready: says so, with the reason its /ready gives', () => {
    // Identity is down: the gateway has no certificate, its /routes answers {"routes":[]}.
    expect(
      none({
        pods: [
          {
            pod: GW,
            ready: false,
            routes: [],
            readiness: { ok: true, value: ['certificates not loaded'] },
          },
        ],
        mirrors: { ok: true, value: ['test/podinfo-west'] },
      }),
    ).toBe(
      [
        'No egress routes:',
        '  1 mirror has egress ports (test/podinfo-west), which the gateway pods should listen on',
        `  gateway pod ${GW} is running but not ready (certificates not loaded): a gateway listens once it is ready`,
        'See `isthmus check`.',
        '',
      ].join('\n'),
    );
  });

  it('names the pods whose /ready could not be read, or that do not answer /routes', () => {
    expect(
      none({
        pods: [
          { pod: 'isthmus-gateway-a', ready: false, routes: [], readiness: { ok: false, error: '503' } },
          { pod: 'isthmus-gateway-b', ready: true, error: 'connect ECONNREFUSED 10.244.1.7:4191' },
          { pod: 'isthmus-gateway-c', ready: false, routes: [] },
        ],
        mirrors: { ok: true, value: ['test/a-west', 'test/b-west', 'test/c-west', 'test/d-west'] },
      }),
    ).toBe(
      [
        'No egress routes:',
        '  4 mirrors have egress ports (test/a-west, test/b-west, test/c-west and 1 more), which the gateway pods should listen on',
        '  gateway pod isthmus-gateway-a is running but not ready (its /ready could not be read: 503): a gateway listens once it is ready',
        '  gateway pod isthmus-gateway-b did not answer /routes (connect ECONNREFUSED 10.244.1.7:4191)',
        '  gateway pod isthmus-gateway-c is running but not ready: a gateway listens once it is ready',
        'See `isthmus check`.',
        '',
      ].join('\n'),
    );
  });

  it('ready gateways that listen on nothing while mirrors have egress ports', () => {
    expect(
      none({
        pods: [{ pod: GW, ready: true, routes: [] }],
        mirrors: { ok: true, value: ['test/podinfo-west'] },
      }).split('\n')[2],
    ).toBe(`  gateway pod ${GW} is ready and listens on no egress port`);
  });

  it('no mirror with egress ports, and no gateway pod running', () => {
    expect(none({ pods: [], mirrors: { ok: true, value: [] } })).toBe(
      [
        'No egress routes:',
        '  no mirror has egress ports (no Link, or nothing exported to this cluster)',
        '  no gateway pod is running in isthmus-system',
        'See `isthmus check`.',
        '',
      ].join('\n'),
    );
    expect(none({ pods: [], mirrors: { ok: false, error: '403 Forbidden' } }).split('\n')[1]).toBe(
      '  mirrors could not be read: 403 Forbidden',
    );
  });
});
