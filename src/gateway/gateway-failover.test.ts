import { describe, expect, it } from 'vitest';
import { IsthmusError, type IsthmusErrorCode } from '../errors.js';
import type { HostPort } from '../host-port.js';
import type { Link } from '../kube/types.js';
import { failoverOrder, gatewayAddressesOf, triesNextAddress } from './gateway-failover.js';
import { hungError } from './session-liveness.js';

function link(
  cluster: string,
  spec: { gatewayAddress?: string; gatewayPort?: number },
  status: { gatewayAddresses?: string[]; mirroredClusterName?: string } = {},
  deleting = false,
): Link {
  return {
    apiVersion: 'multicluster.isthmus.dev/v1alpha1',
    kind: 'Link',
    metadata: {
      name: cluster,
      namespace: 'isthmus-system',
      ...(deleting ? { deletionTimestamp: new Date() } : {}),
    },
    spec: { targetClusterName: cluster, ...spec },
    status,
  } as Link;
}

const at = (host: string, port = 30143): HostPort => ({ host, port });
const hosts = (addresses: HostPort[]): string[] => addresses.map((a) => `${a.host}:${a.port}`);

describe('gatewayAddressesOf: the addresses of the gateway a mirror or probe names', () => {
  const nodePort = link('west', { gatewayAddress: '192.0.2.10,192.0.2.11', gatewayPort: 30143 });
  it.each<[string, Link[], HostPort, string, string[]]>([
    [
      'the nodes of a NodePort gateway, in the Link order',
      [nodePort],
      at('192.0.2.10'),
      'west',
      ['192.0.2.10:30143', '192.0.2.11:30143'],
    ],
    [
      'from the second node asked about: still the Link order',
      [nodePort],
      at('192.0.2.11'),
      'west',
      ['192.0.2.10:30143', '192.0.2.11:30143'],
    ],
    [
      'another port: only the address asked about',
      [nodePort],
      at('192.0.2.10', 4143),
      'west',
      ['192.0.2.10:4143'],
    ],
    [
      'another cluster: only the address asked about',
      [nodePort],
      at('192.0.2.10'),
      'north',
      ['192.0.2.10:30143'],
    ],
    [
      'an address the Link does not name: only it (the Link of the cluster is not a licence for any address)',
      [nodePort],
      at('192.0.2.99'),
      'west',
      ['192.0.2.99:30143'],
    ],
    [
      'a Link being deleted names nothing',
      [link('west', { gatewayAddress: '192.0.2.10,192.0.2.11', gatewayPort: 30143 }, {}, true)],
      at('192.0.2.10'),
      'west',
      ['192.0.2.10:30143'],
    ],
    [
      "a LoadBalancer's address: its other addresses (status), never the Link's fallback gatewayAddress",
      [
        link(
          'west',
          { gatewayAddress: '198.51.100.7' },
          { gatewayAddresses: ['203.0.113.1', '203.0.113.2'] },
        ),
      ],
      at('203.0.113.2', 4143),
      'west',
      ['203.0.113.1:4143', '203.0.113.2:4143'],
    ],
    [
      "an address only the Link's gatewayAddress names (a mirror not rewritten yet): that list",
      [link('west', { gatewayAddress: '198.51.100.7,198.51.100.8' }, { gatewayAddresses: ['203.0.113.1'] })],
      at('198.51.100.8', 4143),
      'west',
      ['198.51.100.7:4143', '198.51.100.8:4143'],
    ],
    [
      'each address once',
      [link('west', { gatewayAddress: '192.0.2.10,192.0.2.11,192.0.2.10' })],
      at('192.0.2.11', 4143),
      'west',
      ['192.0.2.10:4143', '192.0.2.11:4143'],
    ],
    [
      'the family of the address asked about first (a dual-stack LoadBalancer), the spelling asked about kept',
      [link('west', {}, { gatewayAddresses: ['fd00::1', '203.0.113.1', 'FD00:0::2', '203.0.113.2'] })],
      at('fd00:0::1', 4143),
      'west',
      ['fd00:0::1:4143', 'FD00:0::2:4143', '203.0.113.1:4143', '203.0.113.2:4143'],
    ],
    [
      'the cluster a retargeted Link still holds mirrors of',
      [
        link(
          'wset',
          { gatewayAddress: '192.0.2.10,192.0.2.11', gatewayPort: 30143 },
          { mirroredClusterName: 'west' },
        ),
      ],
      at('192.0.2.11'),
      'west',
      ['192.0.2.10:30143', '192.0.2.11:30143'],
    ],
    [
      'a hostname and IPs of no family asked: the Link order',
      [link('west', { gatewayAddress: 'gw.west.example,192.0.2.10' })],
      at('gw.west.example', 4143),
      'west',
      ['gw.west.example:4143', '192.0.2.10:4143'],
    ],
  ])('%s', (_name, links, target, cluster, expected) => {
    expect(hosts(gatewayAddressesOf(links, target, cluster))).toEqual(expected);
  });

  it('returns the object asked about itself (the pool keys its state by that spelling)', () => {
    const target = at('192.0.2.11');
    expect(gatewayAddressesOf([nodePort], target, 'west')).toContain(target);
  });
});

describe('failoverOrder: which address first', () => {
  const none = (): boolean => false;
  it.each<[string, string[], string, string[], string[]]>([
    ['the current one, then round the Link order', ['a', 'b', 'c'], 'b', [], ['b', 'c', 'a']],
    ['the one asked about when none is current (unknown)', ['a', 'b', 'c'], 'x', [], ['a', 'b', 'c']],
    ['a failing current one last: its next one first', ['a', 'b', 'c'], 'a', ['a'], ['b', 'c', 'a']],
    ['failing ones last, in the same order', ['a', 'b', 'c'], 'a', ['a', 'b'], ['c', 'a', 'b']],
    [
      'all failing: from the current one all the same',
      ['a', 'b', 'c'],
      'b',
      ['a', 'b', 'c'],
      ['b', 'c', 'a'],
    ],
    ['one address', ['a'], 'a', ['a'], ['a']],
  ])('%s', (_name, addresses, current, failing, expected) => {
    expect(
      failoverOrder(addresses, current, failing.length === 0 ? none : (a) => failing.includes(a)),
    ).toEqual(expected);
  });
});

describe('triesNextAddress: which failures another address may cure', () => {
  const err = (code: IsthmusErrorCode): IsthmusError => new IsthmusError(code, code);
  it.each<[string, IsthmusError | undefined, boolean]>([
    ['nothing answered (refused, reset, unreachable)', err('GATEWAY_UNREACHABLE'), true],
    ['no session within the connect timeout', err('GATEWAY_CONNECT_TIMEOUT'), true],
    ['a session that stopped answering', hungError('192.0.2.10:30143', 'no PING answer'), true],
    ['the remote refused our certificate: every address would', err('GATEWAY_REFUSED'), false],
    ['we refuse its certificate (anchor, revoked): not to be hidden', err('GATEWAY_UNTRUSTED'), false],
    ["another cluster's gateway at that address: not to be hidden", err('GATEWAY_IDENTITY_MISMATCH'), false],
    ['the cluster was unlinked', err('GATEWAY_NOT_LINKED'), false],
    ['the remote answered the CONNECT (403, 502)', err('TUNNEL_REFUSED'), false],
    ['no error yet', undefined, false],
  ])('%s', (_name, e, expected) => {
    expect(triesNextAddress(e)).toBe(expected);
  });
});
