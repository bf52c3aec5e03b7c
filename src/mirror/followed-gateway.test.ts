import { describe, expect, it } from 'vitest';
import {
  followedAddresses,
  forgetKnownGateway,
  gatewayTarget,
  type KnownGateway,
  probeWaits,
  sameAddresses,
} from './followed-gateway.js';

const known: KnownGateway = { addresses: ['10.2.0.9'], fromService: true };

describe('followedAddresses', () => {
  it.each<[string, string[] | undefined, KnownGateway | undefined, string[]]>([
    ["the connection's first", ['10.2.0.1'], known, ['10.2.0.1']],
    ['an empty list from the connection is its answer', [], known, []],
    ['else the last known', undefined, known, ['10.2.0.9']],
    ["else the Link's", undefined, undefined, ['10.1.0.1']],
  ])('%s', (_, connection, k, want) => {
    expect(followedAddresses(connection, k, ['10.1.0.1'])).toEqual(want);
  });
});

describe('gatewayTarget', () => {
  it.each<[string, string[], string | undefined, string | undefined]>([
    ['none', [], 'IPv4', undefined],
    ["the cluster's family", ['fd00::1', '10.2.0.1'], 'IPv4', '10.2.0.1:4143'],
    ['IPv6 bracketed', ['10.2.0.1', 'fd00::1'], 'IPv6', '[fd00::1]:4143'],
    ['family unknown: the first', ['gw.example.com', '10.2.0.1'], undefined, 'gw.example.com:4143'],
  ])('%s', (_, addresses, family, want) => {
    expect(gatewayTarget(addresses, family, 4143)).toBe(want);
  });
});

describe('probeWaits', () => {
  const waiting: Parameters<typeof probeWaits>[0] = {
    known: false,
    connectionKnows: false,
    credentialsError: undefined,
    remoteApiUp: undefined,
  };
  it.each<[string, Partial<typeof waiting>, boolean]>([
    ['a first connection is on its way', {}, true],
    ['the remote API answered', { remoteApiUp: true }, true],
    ['addresses known from a connection before', { known: true }, false],
    ['the connection listed the gateway Service', { connectionKnows: true }, false],
    ['credentials unusable: nothing will answer', { credentialsError: 'Secret not found' }, false],
    ['remote API unreachable', { remoteApiUp: false }, false],
  ])('%s', (_, over, want) => {
    expect(probeWaits({ ...waiting, ...over })).toBe(want);
  });
});

describe('forgetKnownGateway', () => {
  it.each<[boolean, boolean, boolean, boolean]>([
    [false, false, false, false],
    [false, false, true, false],
    [false, true, true, false],
    [false, true, false, true],
    [true, false, true, true],
    [true, false, false, true],
  ])(
    'gateway gained or lost %s, fallback changed %s, from a Service %s → %s',
    (hasGatewayChanged, fallbackChanged, fromService, want) => {
      expect(forgetKnownGateway({ hasGatewayChanged, fallbackChanged, fromService })).toBe(want);
    },
  );
});

describe('sameAddresses', () => {
  it.each<[readonly string[] | undefined, string[], boolean]>([
    [undefined, [], false],
    [[], [], true],
    [['10.0.0.1', '10.0.0.2'], ['10.0.0.1', '10.0.0.2'], true],
    [['10.0.0.2', '10.0.0.1'], ['10.0.0.1', '10.0.0.2'], false],
    [['10.0.0.1'], ['10.0.0.1', '10.0.0.2'], false],
  ])('%j and %j → %s', (a, b, want) => {
    expect(sameAddresses(a, b)).toBe(want);
  });
});
