import { describe, expect, it } from 'vitest';
import { IsthmusError, type IsthmusErrorCode } from '../errors.js';
import type { HostPort } from '../host-port.js';
import type { Link } from '../kube/types.js';
import {
  gatewayAddressesOf,
  isDeferred,
  triesNextAddress,
  waitsForAsked,
  walkFailure,
  walkOrder,
  walkStep,
} from './gateway-failover.js';
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

describe('walkOrder: which address first', () => {
  it.each<[string, string[], string, string[], boolean, string[]]>([
    ['the one asked about, then the Link order', ['a', 'b', 'c'], 'b', [], false, ['b', 'a', 'c']],
    ['a deferred other one last', ['a', 'b', 'c'], 'a', ['b'], false, ['a', 'c', 'b']],
    [
      'a tunnel: the one asked about in its backoff goes last, first of the deferred',
      ['a', 'b', 'c'],
      'b',
      ['a', 'b'],
      false,
      ['c', 'b', 'a'],
    ],
    [
      'a probe: the one asked about first all the same',
      ['a', 'b', 'c'],
      'b',
      ['a', 'b'],
      true,
      ['b', 'c', 'a'],
    ],
    [
      'all deferred: the one asked about, then the Link order',
      ['a', 'b', 'c'],
      'c',
      ['a', 'b', 'c'],
      false,
      ['c', 'a', 'b'],
    ],
    ['one address', ['a'], 'a', ['a'], false, ['a']],
  ])('%s', (_name, addresses, asked, deferred, probing, expected) => {
    expect(walkOrder(addresses, asked, (a) => deferred.includes(a), probing)).toEqual(expected);
  });

  it('remembers nothing: the same facts give the same order, whatever answered last', () => {
    const deferred = (a: string): boolean => a === 'x';
    expect(walkOrder(['x', 'a', 'b'], 'a', deferred, false)).toEqual(
      walkOrder(['x', 'a', 'b'], 'a', deferred, false),
    );
  });
});

describe('isDeferred: which addresses a walk tries last', () => {
  const err = (code: IsthmusErrorCode): IsthmusError => new IsthmusError(code, code);
  it.each<[string, IsthmusError | undefined, boolean, boolean]>([
    ['refused, in its backoff', err('GATEWAY_UNREACHABLE'), false, true],
    [
      'refused, its backoff over: dialled in its place (one failed dial per backoff at most)',
      err('GATEWAY_UNREACHABLE'),
      true,
      false,
    ],
    ['a connect timeout, in its backoff', err('GATEWAY_CONNECT_TIMEOUT'), false, true],
    [
      'a failure of trust keeps its place (at the address asked about it ends the walk)',
      err('GATEWAY_UNTRUSTED'),
      false,
      false,
    ],
    ['no failure', undefined, false, false],
  ])('%s', (_name, lastError, backoffOver, expected) => {
    expect(isDeferred({ lastError, backoffOver })).toBe(expected);
  });
});

describe('waitsForAsked: whether a walk waits for the address asked about before any other', () => {
  const err = (code: IsthmusErrorCode): IsthmusError => new IsthmusError(code, code);
  it.each<[string, IsthmusError | undefined, boolean]>([
    ['never failed, or gave a session since: staggered (its head start only)', undefined, false],
    ['nothing answered there last: staggered', err('GATEWAY_UNREACHABLE'), false],
    ['a connect timeout there last: staggered', err('GATEWAY_CONNECT_TIMEOUT'), false],
    ['its certificate refused by us last: waited for', err('GATEWAY_UNTRUSTED'), true],
    ['ours refused there last: waited for', err('GATEWAY_REFUSED'), true],
    ["another cluster's gateway there last: waited for", err('GATEWAY_IDENTITY_MISMATCH'), true],
  ])('%s', (_name, lastFailure, expected) => {
    expect(waitsForAsked(lastFailure)).toBe(expected);
  });
});

describe('walkStep: what a failure at one address does to the walk', () => {
  const err = (code: IsthmusErrorCode): IsthmusError => new IsthmusError(code, code);
  it.each<[string, IsthmusErrorCode, boolean, 'next' | 'end']>([
    ['nothing answers at the one asked about', 'GATEWAY_UNREACHABLE', true, 'next'],
    ['a connect timeout elsewhere', 'GATEWAY_CONNECT_TIMEOUT', false, 'next'],
    ["another cluster's gateway at the one asked about: surfaces", 'GATEWAY_IDENTITY_MISMATCH', true, 'end'],
    [
      "another cluster's gateway at a stale address of the Link: skipped",
      'GATEWAY_IDENTITY_MISMATCH',
      false,
      'next',
    ],
    ['another anchor at the one asked about', 'GATEWAY_UNTRUSTED', true, 'end'],
    ['another anchor at a stale address: skipped', 'GATEWAY_UNTRUSTED', false, 'next'],
    ['our certificate refused at the one asked about', 'GATEWAY_REFUSED', true, 'end'],
    ['our certificate refused elsewhere: skipped', 'GATEWAY_REFUSED', false, 'next'],
    ['unlinked, anywhere', 'GATEWAY_NOT_LINKED', false, 'end'],
  ])('%s', (_name, code, asked, expected) => {
    expect(walkStep(err(code), asked)).toBe(expected);
  });
});

describe("walkFailure: the asked address's failure first, then the others'", () => {
  const a = 'a:1';
  const refused = new IsthmusError('GATEWAY_UNREACHABLE', 'gateway a:1 unreachable: ECONNREFUSED', {
    cause: 'x',
  });
  const north = new IsthmusError(
    'GATEWAY_IDENTITY_MISMATCH',
    'the gateway at s:1 holds the gateway identity of cluster north',
  );
  it('one address: its error as it is', () => {
    expect(walkFailure(a, [{ address: a, error: refused }], 5_000)).toBe(refused);
  });
  it("the code and cause are the asked address's, whatever order they were tried in", () => {
    const e = walkFailure(
      a,
      [
        { address: 's:1', error: north },
        { address: a, error: refused },
      ],
      5_000,
    );
    expect({ code: e.code, cause: e.cause, message: e.message }).toEqual({
      code: 'GATEWAY_UNREACHABLE',
      cause: 'x',
      message:
        'gateway a:1 unreachable: ECONNREFUSED; nor did the other addresses the Link names: the gateway at s:1 holds the gateway identity of cluster north',
    });
  });
  it('addresses still dialling when the time ran out: a connect timeout for the one asked about', () => {
    const e = walkFailure(
      a,
      [
        { address: a, error: undefined },
        { address: 'b:1', error: undefined },
      ],
      300,
    );
    expect({ code: e.code, message: e.message }).toEqual({
      code: 'GATEWAY_CONNECT_TIMEOUT',
      message:
        'no session with a:1 within 300 ms; nor did the other addresses the Link names: b:1 gave no answer yet',
    });
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
