import { describe, expect, it } from 'vitest';
import type { LinkConfig } from './link-config.js';
import { type LinkEditPlan, planLinkEdit } from './link-edit.js';
import { linkConfig } from './test-builders.js';

const before = linkConfig('west');
const nothing: LinkEditPlan = {
  reconnect: false,
  rewatchCredentials: false,
  fallbackChanged: false,
  forgetKnownGateway: false,
};

describe('planLinkEdit', () => {
  it.each<[string, Partial<LinkConfig>, boolean, Partial<LinkEditPlan>]>([
    ['unchanged', {}, false, {}],
    ['probe path only: no reconnect', { probe: { ...before.probe, path: '/other' } }, false, {}],
    ['gatewayPort only: no reconnect', { gatewayPort: 4999 }, false, {}],
    [
      'credentials Secret renamed',
      { credentialsSecret: 'other' },
      false,
      { reconnect: true, rewatchCredentials: true },
    ],
    ['selector edited', { selector: { matchLabels: { a: 'b' } } }, false, { reconnect: true }],
    ['selector emptied (null)', { selector: null }, false, { reconnect: true }],
    ['federated selector edited', { federatedServiceSelector: null }, false, { reconnect: true }],
    ['remote-discovery selector edited', { remoteDiscoverySelector: null }, false, { reconnect: true }],
    [
      'gateway dropped',
      { hasGateway: false, gatewayAddresses: [] },
      true,
      { reconnect: true, fallbackChanged: true, forgetKnownGateway: true },
    ],
    [
      'gatewayAddress changed while the known addresses were that fallback',
      { gatewayAddresses: ['10.1.0.2'] },
      false,
      { fallbackChanged: true, forgetKnownGateway: true },
    ],
    [
      "gatewayAddress changed while the known addresses are the LoadBalancer's",
      { gatewayAddresses: ['10.1.0.2'] },
      true,
      { fallbackChanged: true },
    ],
  ])('%s', (_, change, knownFromService, want) => {
    expect(planLinkEdit(before, { ...before, ...change }, knownFromService)).toEqual({ ...nothing, ...want });
  });

  it('a gateway gained is forgotten even with addresses from a LoadBalancer', () => {
    const without = { ...before, hasGateway: false };
    expect(planLinkEdit(without, before, true)).toEqual({
      ...nothing,
      reconnect: true,
      forgetKnownGateway: true,
    });
  });
});
