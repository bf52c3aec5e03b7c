import { describe, expect, it } from 'vitest';
import { renderRoutesTable, routeRows } from './routes-view.js';

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
    const table = renderRoutesTable(rows);
    expect(table.split('\n')[0]).toMatch(/^GATEWAY POD\s+PORT\s+MIRROR\s+AUTHORITY\s+REMOTE GATEWAY$/);
    expect(table).toMatch(
      /isthmus-gateway-b\s+20001\s+test\/podinfo-west\s+podinfo\.test\.svc\.cluster\.local:9900\s+\[fd00::7\]:4143/,
    );
  });

  it('says so when there is nothing to show', () => {
    expect(renderRoutesTable(routeRows([]))).toBe(
      'No egress routes: no mirror, or no running gateway pod.\n',
    );
  });
});
