import { describe, expect, it } from 'vitest';
import type { V1EndpointSlice } from '../kube/types.js';
import { readyGatewayAddresses } from './gateway-addresses.js';

function slice(addressType: string, ready: Record<string, boolean | undefined>): V1EndpointSlice {
  return {
    metadata: { name: `isthmus-gateway-${addressType.toLowerCase()}`, namespace: 'isthmus-system' },
    addressType,
    endpoints: Object.entries(ready).map(([ip, r]) => ({
      addresses: [ip],
      conditions: r === undefined ? {} : { ready: r },
    })),
  };
}

describe('readyGatewayAddresses', () => {
  it('keeps ready pods (an absent condition is ready), once each, sorted', () => {
    expect(
      readyGatewayAddresses([
        slice('IPv4', { '10.0.0.9': true, '10.0.0.7': undefined, '10.0.0.8': false }),
        slice('IPv4', { '10.0.0.9': true }),
      ]),
    ).toEqual(['10.0.0.7', '10.0.0.9']);
  });

  it('keeps one family: a dual-stack gateway Service gives its IPv4 pods, an IPv6-only one its IPv6 pods', () => {
    const v6 = slice('IPv6', { 'fd00::7': true });
    expect(readyGatewayAddresses([v6, slice('IPv4', { '10.0.0.7': true })])).toEqual(['10.0.0.7']);
    expect(readyGatewayAddresses([v6])).toEqual(['fd00::7']);
    // No ready IPv4 pod: none, not the IPv6 ones (a slice's addressType cannot change).
    expect(readyGatewayAddresses([v6, slice('IPv4', { '10.0.0.7': false })])).toEqual([]);
    expect(readyGatewayAddresses([slice('FQDN', { 'gw.example': true })])).toEqual([]);
  });

  it("keeps the cluster's own family when the gateway Service is dual-stack (mirror Services get that family)", () => {
    const both = [slice('IPv4', { '10.0.0.7': true }), slice('IPv6', { 'fd00::7': true })];
    expect(readyGatewayAddresses(both, 'IPv6')).toEqual(['fd00::7']);
    expect(readyGatewayAddresses(both, 'IPv4')).toEqual(['10.0.0.7']);
    // A family the gateway has no slice of does not empty the mirror: its own family, as before.
    expect(readyGatewayAddresses([slice('IPv4', { '10.0.0.7': true })], 'IPv6')).toEqual(['10.0.0.7']);
  });
});
