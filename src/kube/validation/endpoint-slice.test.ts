import { describe, expect, it } from 'vitest';
import { validateBuiltin } from '../../sandbox/validation.js';
import { isLoopbackIP } from './endpoint-slice.js';
import type { StatusCause } from './field-errors.js';

const strict = { allowLoopbackEndpoints: false };
const lab = { allowLoopbackEndpoints: true };
const GVK = 'discovery.k8s.io/v1/EndpointSlice';

function slice(addresses: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'podinfo-west-abc',
      namespace: 'test',
      labels: { 'kubernetes.io/service-name': 'podinfo-west' },
    },
    addressType: 'IPv4',
    endpoints: [{ addresses, conditions: { ready: true } }],
    ports: [{ name: 'http', port: 20001, protocol: 'TCP' }],
    ...extra,
  };
}

const LOOPBACK = 'may not be in the loopback range (127.0.0.0/8, ::1/128)';
const LINK_LOCAL = 'may not be in the link-local range (169.254.0.0/16, fe80::/10)';
const LL_MULTICAST = 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)';

describe('EndpointSlice addresses', () => {
  it.each([
    ['IPv4', '10.0.0.1'],
    ['IPv4', '192.168.1.7'],
    ['IPv4', '224.0.1.1'],
    ['IPv6', '2001:db8::1'],
    ['IPv6', 'fd00::5'],
    ['FQDN', 'gateway.example.com'],
    ['FQDN', 'gateway.example.com.'],
  ])('%s %s is accepted', (addressType, address) => {
    expect(validateBuiltin(GVK, slice([address], { addressType }), undefined, strict)).toEqual([]);
  });

  it.each<[string, string, string]>([
    ['IPv4', '127.0.0.1', LOOPBACK],
    ['IPv4', '127.0.0.2', LOOPBACK],
    ['IPv4', '169.254.1.1', LINK_LOCAL],
    ['IPv4', '224.0.0.5', LL_MULTICAST],
    ['IPv4', '0.0.0.0', 'may not be unspecified (0.0.0.0)'],
    ['IPv4', '10.0.0.256', 'must be a valid IPv4 address'],
    ['IPv4', '2001:db8::1', 'must be a valid IPv4 address'],
    ['IPv6', '::1', LOOPBACK],
    ['IPv6', 'fe80::1', LINK_LOCAL],
    ['IPv6', 'ff02::1', LL_MULTICAST],
    ['IPv6', '::ffff:127.0.0.1', LOOPBACK],
    ['IPv6', '10.0.0.1', 'must be a valid IPv6 address'],
    ['FQDN', 'gateway', 'should be a domain with at least two segments separated by dots'],
    ['FQDN', 'Gateway.Example.com', 'a lowercase RFC 1123 subdomain'],
  ])('%s %s is refused: %s', (addressType, address, message) => {
    const causes = validateBuiltin(GVK, slice([address], { addressType }), undefined, strict);
    expect(causes).toContainEqual(
      expect.objectContaining({
        field: 'endpoints[0].addresses[0]',
        message: expect.stringContaining(message),
      }),
    );
  });

  it('words the loopback refusal exactly as kube-apiserver', () => {
    expect(validateBuiltin(GVK, slice(['127.0.0.1']), undefined, strict)).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'endpoints[0].addresses[0]',
        message: `Invalid value: "127.0.0.1": ${LOOPBACK}`,
      },
    ]);
  });

  it('the lab relaxation admits loopback and nothing else', () => {
    expect(validateBuiltin(GVK, slice(['127.0.0.2']), undefined, lab)).toEqual([]);
    expect(validateBuiltin(GVK, slice(['::1'], { addressType: 'IPv6' }), undefined, lab)).toEqual([]);
    expect(validateBuiltin(GVK, slice(['169.254.0.1']), undefined, lab)).toHaveLength(1);
    expect(validateBuiltin(GVK, slice(['0.0.0.0']), undefined, lab)).toHaveLength(1);
  });

  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['::2', false],
    ['nonsense', false],
  ])('isLoopbackIP(%s) = %s', (ip, want) => {
    expect(isLoopbackIP(ip)).toBe(want);
  });
});

describe('EndpointSlice structure', () => {
  it.each<[string, Record<string, unknown>, Partial<StatusCause>]>([
    [
      'missing addressType',
      { addressType: undefined },
      { field: 'addressType', reason: 'FieldValueRequired' },
    ],
    [
      'unknown addressType',
      { addressType: 'IP' },
      { field: 'addressType', message: 'Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"' },
    ],
    [
      'endpoint without addresses',
      { endpoints: [{ addresses: [] }] },
      { field: 'endpoints[0].addresses', message: 'Required value: must contain at least 1 address' },
    ],
    [
      'too many addresses',
      {
        endpoints: [{ addresses: Array.from({ length: 101 }, (_, i) => `10.0.${i >> 8}.${(i % 250) + 1}`) }],
      },
      { field: 'endpoints[0].addresses' },
    ],
    [
      'too many endpoints',
      { endpoints: Array.from({ length: 1001 }, () => ({ addresses: ['10.0.0.1'] })) },
      { field: 'endpoints' },
    ],
    [
      'bad hostname',
      { endpoints: [{ addresses: ['10.0.0.1'], hostname: 'Web_0' }] },
      { field: 'endpoints[0].hostname', reason: 'FieldValueInvalid' },
    ],
    [
      'non-boolean condition',
      { endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: 'yes' } }] },
      { field: 'endpoints[0].conditions.ready', reason: 'FieldValueTypeInvalid' },
    ],
    [
      'bad port name',
      { ports: [{ name: 'HTTP', port: 80 }] },
      { field: 'ports[0].name', reason: 'FieldValueInvalid' },
    ],
    [
      'duplicate port names',
      {
        ports: [
          { name: 'a', port: 80 },
          { name: 'a', port: 81 },
        ],
      },
      { field: 'ports[1].name', message: 'Duplicate value: "a"' },
    ],
    [
      'two unnamed ports',
      { ports: [{ port: 80 }, { port: 81 }] },
      { field: 'ports[1].name', message: 'Duplicate value: ""' },
    ],
    [
      'bad protocol',
      { ports: [{ name: 'a', port: 80, protocol: 'ICMP' }] },
      { field: 'ports[0].protocol', reason: 'FieldValueNotSupported' },
    ],
    [
      'port out of range',
      { ports: [{ name: 'a', port: 70000 }] },
      { field: 'ports[0].port', reason: 'FieldValueInvalid' },
    ],
    [
      'duplicate zone hints',
      { endpoints: [{ addresses: ['10.0.0.1'], hints: { forZones: [{ name: 'a' }, { name: 'a' }] } }] },
      { field: 'endpoints[0].hints.forZones[1].name', message: 'Duplicate value: "a"' },
    ],
    [
      'a zone hint that is not a label value',
      { endpoints: [{ addresses: ['10.0.0.1'], hints: { forZones: [{ name: 'eu west' }] } }] },
      { field: 'endpoints[0].hints.forZones[0].name', reason: 'FieldValueInvalid' },
    ],
    [
      'more than 8 zone hints',
      {
        endpoints: [
          {
            addresses: ['10.0.0.1'],
            hints: { forZones: Array.from({ length: 9 }, (_, i) => ({ name: `z${i}` })) },
          },
        ],
      },
      { field: 'endpoints[0].hints.forZones', message: 'Too many: 9: must have at most 8 items' },
    ],
    [
      'too many ports',
      { ports: Array.from({ length: 20_001 }, (_, i) => ({ name: `p${i}`, port: i + 1 })) },
      { field: 'ports', message: 'Too many: 20001: must have at most 20000 items' },
    ],
  ])('rejects %s', (_what, extra, want) => {
    expect(validateBuiltin(GVK, slice(['10.0.0.1'], extra), undefined, strict)).toContainEqual(
      expect.objectContaining(want),
    );
  });

  it('accepts more than 100 ports, as kube-apiserver does since 1.21', () => {
    const ports = Array.from({ length: 120 }, (_, i) => ({ name: `p${i}`, port: i + 1, protocol: 'TCP' }));
    expect(validateBuiltin(GVK, slice(['10.1.2.3'], { ports }), undefined, strict)).toEqual([]);
  });

  it('accepts no endpoints and no ports (a mirror whose remote has no ready endpoint)', () => {
    expect(validateBuiltin(GVK, slice([], { endpoints: [], ports: [] }), undefined, strict)).toEqual([]);
  });

  it('addressType is immutable', () => {
    const old = slice(['10.0.0.1']);
    expect(
      validateBuiltin(GVK, slice(['gw.example.com'], { addressType: 'FQDN' }), old, strict),
    ).toContainEqual({
      reason: 'FieldValueInvalid',
      field: 'addressType',
      message: 'Invalid value: "FQDN": field is immutable',
    });
  });
});

describe('core/v1 Endpoints', () => {
  function endpoints(subsets: unknown[]): Record<string, unknown> {
    return { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'e', namespace: 'n' }, subsets };
  }
  it('accepts ready and not-ready pod addresses', () => {
    const eps = endpoints([
      {
        addresses: [{ ip: '10.0.0.1', hostname: 'web-0' }],
        notReadyAddresses: [{ ip: '10.0.0.2' }],
        ports: [{ port: 80 }],
      },
    ]);
    expect(validateBuiltin('v1/Endpoints', eps, undefined, strict)).toEqual([]);
  });
  it.each<[string, unknown[], Partial<StatusCause>]>([
    [
      'a loopback address',
      [{ addresses: [{ ip: '127.0.0.1' }] }],
      { field: 'subsets[0].addresses[0].ip', message: `Invalid value: "127.0.0.1": ${LOOPBACK}` },
    ],
    [
      'a link-local not-ready address',
      [{ notReadyAddresses: [{ ip: '169.254.169.254' }] }],
      {
        field: 'subsets[0].notReadyAddresses[0].ip',
        message: `Invalid value: "169.254.169.254": ${LINK_LOCAL}`,
      },
    ],
    [
      'a missing ip',
      [{ addresses: [{}] }],
      {
        field: 'subsets[0].addresses[0].ip',
        message: 'Invalid value: "": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
      },
    ],
    [
      'a subset without addresses',
      [{ ports: [{ port: 80 }] }],
      { field: 'subsets[0]', message: 'Required value: must specify `addresses` or `notReadyAddresses`' },
    ],
    [
      'unnamed ports among several',
      [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }, { name: 'b', port: 81 }] }],
      { field: 'subsets[0].ports[0].name', reason: 'FieldValueRequired' },
    ],
    [
      'port 0',
      [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 0 }] }],
      { field: 'subsets[0].ports[0].port', reason: 'FieldValueInvalid' },
    ],
  ])('rejects %s', (_what, subsets, want) => {
    expect(validateBuiltin('v1/Endpoints', endpoints(subsets), undefined, strict)).toContainEqual(
      expect.objectContaining(want),
    );
  });
  it('the lab relaxation admits loopback', () => {
    expect(
      validateBuiltin('v1/Endpoints', endpoints([{ addresses: [{ ip: '127.0.0.3' }] }]), undefined, lab),
    ).toEqual([]);
  });
});
