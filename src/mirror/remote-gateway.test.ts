import { describe, expect, it } from 'vitest';
import { gatewayHosts, preferredGateway, resolveHosts } from './remote-gateway.js';

describe('remote gateway address', () => {
  it.each([
    [
      'LB IPs win over the Link',
      { ingress: [{ ip: '10.2.0.1' }, { hostname: 'gw.example.com' }] },
      ['10.2.0.1', 'gw.example.com'],
    ],
    ['no ingress → the Link fallback', { ingress: [] }, ['10.1.0.1']],
    ['no status → the Link fallback', undefined, ['10.1.0.1']],
  ])('%s', (_n, lb, expected) => {
    const svc = lb ? { status: { loadBalancer: lb } } : undefined;
    expect(gatewayHosts(svc, ['10.1.0.1'])).toEqual(expected);
  });

  it('resolves hostnames and keeps unresolvable ones', async () => {
    const resolve = async (host: string) => {
      if (host === 'gw.example.com') return ['10.3.0.1', '10.3.0.2'];
      throw new Error('ENOTFOUND');
    };
    expect(await resolveHosts(['10.2.0.1', 'gw.example.com', 'nope.invalid'], resolve)).toEqual([
      '10.2.0.1',
      '10.3.0.1',
      '10.3.0.2',
      'nope.invalid',
    ]);
  });

  it("dials the first address of the local cluster's family, else the first", () => {
    const both = ['fd00::5', 'gw.example', '10.0.0.5', '10.0.0.6'];
    expect(preferredGateway(both, 'IPv4')).toBe('10.0.0.5');
    expect(preferredGateway(both, 'IPv6')).toBe('fd00::5');
    expect(preferredGateway(['10.0.0.5'], 'IPv6')).toBe('10.0.0.5');
    expect(preferredGateway(['gw.example', '10.0.0.5'], undefined)).toBe('gw.example');
    expect(preferredGateway([], 'IPv4')).toBeUndefined();
  });
});
