import { describe, expect, it } from 'vitest';
import type { StatusCause } from '../kube/validation/field-errors.js';
import { validateBuiltin } from './validation.js';

const opts = { allowLoopbackEndpoints: false };

function svc(spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'n' }, spec };
}

const check = (spec: Record<string, unknown>, old?: Record<string, unknown>): StatusCause[] =>
  validateBuiltin('v1/Service', svc(spec), old && svc(old), opts);

describe('Service validation', () => {
  it.each<[string, Record<string, unknown>]>([
    ['one unnamed port', { ports: [{ port: 80 }] }],
    [
      'defaulted fields written out',
      {
        type: 'ClusterIP',
        sessionAffinity: 'None',
        ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }],
      },
    ],
    ['named targetPort', { ports: [{ port: 80, targetPort: 'http' }] }],
    [
      'two named ports',
      {
        ports: [
          { name: 'http', port: 80 },
          { name: 'grpc', port: 9090 },
        ],
      },
    ],
    [
      'same port, different protocols',
      {
        ports: [
          { name: 'dns', port: 53 },
          { name: 'dns-udp', port: 53, protocol: 'UDP' },
        ],
      },
    ],
    ['headless without ports', { clusterIP: 'None', selector: { app: 'db' } }],
    ['ExternalName', { type: 'ExternalName', externalName: 'db.example.com.' }],
    ['LoadBalancer', { type: 'LoadBalancer', ports: [{ name: 'ingress', port: 4143, nodePort: 31000 }] }],
    [
      'ClientIP affinity',
      {
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } },
        ports: [{ port: 80 }],
      },
    ],
    [
      'dual stack',
      { ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'], ports: [{ port: 80 }] },
    ],
    ['allocated clusterIP', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ port: 80 }] }],
    [
      'a load balancer restricted to source ranges (space-padded too), with a class',
      {
        type: 'LoadBalancer',
        loadBalancerSourceRanges: ['10.0.0.0/8', ' 2001:db8::/64 '],
        loadBalancerClass: 'service.k8s.aws/nlb',
        externalTrafficPolicy: 'Local',
        ports: [{ port: 4143 }],
      },
    ],
  ])('accepts %s', (_what, spec) => {
    expect(check(spec)).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, Partial<StatusCause>]>([
    ['no ports', {}, { field: 'spec.ports', reason: 'FieldValueRequired' }],
    [
      'a headless Service listing more than None',
      { clusterIP: 'None', clusterIPs: ['None', 'None'], ports: [{ port: 80 }] },
      {
        field: 'spec.clusterIPs',
        message: `Invalid value: ["None","None"]: 'None' must be the first and only value`,
      },
    ],
    [
      'a health-check node port outside LoadBalancer with externalTrafficPolicy Local',
      { type: 'LoadBalancer', healthCheckNodePort: 31000, ports: [{ port: 80 }] },
      {
        field: 'spec.healthCheckNodePort',
        message:
          "Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
      },
    ],
    [
      'port 0',
      { ports: [{ port: 0 }] },
      { field: 'spec.ports[0].port', message: 'Invalid value: 0: must be between 1 and 65535, inclusive' },
    ],
    [
      'port 65536',
      { ports: [{ port: 65536 }] },
      {
        field: 'spec.ports[0].port',
        message: 'Invalid value: 65536: must be between 1 and 65535, inclusive',
      },
    ],
    [
      'protocol HTTP',
      { ports: [{ port: 80, protocol: 'HTTP' }] },
      {
        field: 'spec.ports[0].protocol',
        message: 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
      },
    ],
    [
      'unnamed second port',
      { ports: [{ name: 'a', port: 80 }, { port: 81 }] },
      { field: 'spec.ports[1].name', reason: 'FieldValueRequired' },
    ],
    [
      'duplicate port names',
      {
        ports: [
          { name: 'a', port: 80 },
          { name: 'a', port: 81 },
        ],
      },
      { field: 'spec.ports[1].name', message: 'Duplicate value: "a"' },
    ],
    [
      'bad port name',
      { ports: [{ name: 'Http', port: 80 }] },
      { field: 'spec.ports[0].name', reason: 'FieldValueInvalid' },
    ],
    [
      'duplicate port/protocol',
      {
        ports: [
          { name: 'a', port: 80 },
          { name: 'b', port: 80 },
        ],
      },
      { field: 'spec.ports[1]', reason: 'FieldValueDuplicate' },
    ],
    [
      'targetPort 70000',
      { ports: [{ port: 80, targetPort: 70000 }] },
      {
        field: 'spec.ports[0].targetPort',
        message: 'Invalid value: 70000: must be between 1 and 65535, inclusive',
      },
    ],
    [
      'targetPort bad name',
      { ports: [{ port: 80, targetPort: 'http--x' }] },
      {
        field: 'spec.ports[0].targetPort',
        message: 'Invalid value: "http--x": must not contain consecutive hyphens',
      },
    ],
    [
      'targetPort name too long',
      { ports: [{ port: 80, targetPort: 'a-very-long-port-name' }] },
      {
        field: 'spec.ports[0].targetPort',
        message: 'Invalid value: "a-very-long-port-name": must be no more than 15 characters',
      },
    ],
    [
      'targetPort numeric string',
      { ports: [{ port: 80, targetPort: '8080' }] },
      {
        field: 'spec.ports[0].targetPort',
        message: 'Invalid value: "8080": must contain at least one letter (a-z)',
      },
    ],
    [
      'unknown type',
      { type: 'Ingress', ports: [{ port: 80 }] },
      {
        field: 'spec.type',
        message:
          'Unsupported value: "Ingress": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
      },
    ],
    [
      'ExternalName without a name',
      { type: 'ExternalName' },
      { field: 'spec.externalName', reason: 'FieldValueRequired' },
    ],
    [
      'ExternalName with a bad name',
      { type: 'ExternalName', externalName: 'Bad_Name' },
      { field: 'spec.externalName', reason: 'FieldValueInvalid' },
    ],
    [
      'headless LoadBalancer',
      { type: 'LoadBalancer', clusterIP: 'None', ports: [{ port: 80 }] },
      {
        field: 'spec.clusterIP',
        message: `Invalid value: "None": may not be set to 'None' for LoadBalancer services`,
      },
    ],
    [
      'bad clusterIP',
      { clusterIP: '10.0.0.300', ports: [{ port: 80 }] },
      {
        field: 'spec.clusterIP',
        message: `Invalid value: "10.0.0.300": must be empty, 'None', or a valid IP address`,
      },
    ],
    [
      'nodePort on ClusterIP',
      { ports: [{ port: 80, nodePort: 30000 }] },
      { field: 'spec.ports[0].nodePort', message: "Forbidden: may not be used when `type` is 'ClusterIP'" },
    ],
    [
      'kubelet port through a LB',
      { type: 'LoadBalancer', ports: [{ port: 10250 }] },
      { field: 'spec.ports[0]' },
    ],
    [
      'bad selector value',
      { selector: { app: 'a/b' }, ports: [{ port: 80 }] },
      { field: 'spec.selector', reason: 'FieldValueInvalid' },
    ],
    [
      'bad selector key',
      { selector: { '-app': 'a' }, ports: [{ port: 80 }] },
      { field: 'spec.selector', reason: 'FieldValueInvalid' },
    ],
    [
      'bad sessionAffinity',
      { sessionAffinity: 'Sticky', ports: [{ port: 80 }] },
      { field: 'spec.sessionAffinity', reason: 'FieldValueNotSupported' },
    ],
    [
      'bad ipFamily',
      { ipFamilies: ['IPv5'], ports: [{ port: 80 }] },
      { field: 'spec.ipFamilies[0]', reason: 'FieldValueNotSupported' },
    ],
    [
      'duplicate ipFamily',
      { ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv4'], ports: [{ port: 80 }] },
      { field: 'spec.ipFamilies[1]', reason: 'FieldValueDuplicate' },
    ],
    [
      'loopback externalIP',
      { externalIPs: ['127.0.0.1'], ports: [{ port: 80 }] },
      { field: 'spec.externalIPs[0]', reason: 'FieldValueInvalid' },
    ],
    [
      'source ranges on a ClusterIP Service',
      { loadBalancerSourceRanges: ['10.0.0.0/8'], ports: [{ port: 80 }] },
      {
        field: 'spec.LoadBalancerSourceRanges',
        message: "Forbidden: may only be used when `type` is 'LoadBalancer'",
      },
    ],
    [
      'a source range that is no CIDR',
      { type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/33'], ports: [{ port: 80 }] },
      {
        field: 'spec.LoadBalancerSourceRanges[0]',
        message:
          'Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      },
    ],
    [
      'a class on a NodePort Service',
      { type: 'NodePort', loadBalancerClass: 'example.com/lb', ports: [{ port: 80 }] },
      {
        field: 'spec.loadBalancerClass',
        message: "Forbidden: may only be used when `type` is 'LoadBalancer'",
      },
    ],
    [
      'a class that is no qualified name',
      { type: 'LoadBalancer', loadBalancerClass: 'a/b/c', ports: [{ port: 80 }] },
      { field: 'spec.loadBalancerClass', reason: 'FieldValueInvalid' },
    ],
    [
      'externalTrafficPolicy on ClusterIP',
      { externalTrafficPolicy: 'Local', ports: [{ port: 80 }] },
      { field: 'spec.externalTrafficPolicy' },
    ],
  ])('rejects %s', (_what, spec, want) => {
    expect(check(spec)).toContainEqual(expect.objectContaining(want));
  });

  describe('update', () => {
    const old = { clusterIP: '10.96.0.10', ports: [{ port: 80 }] };
    it('refuses a changed clusterIP', () => {
      expect(check({ clusterIP: '10.96.0.11', ports: [{ port: 80 }] }, old)).toEqual([
        {
          reason: 'FieldValueInvalid',
          field: 'spec.clusterIP',
          message: 'Invalid value: "10.96.0.11": field is immutable',
        },
      ]);
    });
    it('keeps the allocated clusterIP when the update leaves it out', () => {
      expect(check({ ports: [{ port: 81 }] }, old)).toEqual([]);
    });
    it("refuses a change of a load balancer's class", () => {
      const lb = { type: 'LoadBalancer', loadBalancerClass: 'a.example.com/lb', ports: [{ port: 80 }] };
      expect(check({ ...lb, loadBalancerClass: 'b.example.com/lb' }, lb)).toEqual([
        {
          reason: 'FieldValueInvalid',
          field: 'spec.loadBalancerClass',
          message: 'Invalid value: "b.example.com/lb": may not change once set',
        },
      ]);
      expect(check(lb, lb)).toEqual([]);
    });
    it('allows the change to ExternalName and back', () => {
      expect(check({ type: 'ExternalName', externalName: 'x.example.com' }, old)).toEqual([]);
      expect(
        check(
          { clusterIP: '10.96.0.99', ports: [{ port: 80 }] },
          { type: 'ExternalName', externalName: 'x.example.com' },
        ),
      ).toEqual([]);
    });
  });
});
