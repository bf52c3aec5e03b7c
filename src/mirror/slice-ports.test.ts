/** More ports than an EndpointSlice holds: refused when planned, before anything is written. */
import { describe, expect, it } from 'vitest';
import { NO_DIRECT_ENDPOINTS } from './direct-endpoints.js';
import { type MirrorPlanInput, planMirror } from './plan-mirror.js';
import { MAX_SLICE_PORTS, slicePortsSkip } from './skip-reason.js';
import { linkConfig, ourLabels, remoteService } from './test-builders.js';

/** `count` ports named p1, p2, … of `protocol`. */
const ports = (count: number, protocol = 'TCP', from = 1) =>
  Array.from({ length: count }, (_, i) => ({ name: `p${from + i}`, port: from + i, protocol }));

function input(service = remoteService('many', { ports: ports(MAX_SLICE_PORTS + 1) })): MirrorPlanInput {
  const egressPorts = new Map(ports(MAX_SLICE_PORTS + 1).map((p, i) => [p.name, 20000 + i]));
  return {
    remote: { service, readyEndpointCount: 1 },
    link: linkConfig('west', { enableNamespaceCreation: true }),
    gateway: { alive: true, addresses: ['10.0.0.5'], remote: '10.1.0.1:4143' },
    local: { namespaceExists: false },
    egressPorts,
  };
}

const MESSAGE = `${MAX_SLICE_PORTS + 1} TCP ports: a mirror's EndpointSlice holds at most ${MAX_SLICE_PORTS} ports (the Kubernetes API's limit), so it is not mirrored`;

describe('mirrors and the EndpointSlice port limit', () => {
  it.each([
    ['TCP ports at the limit', ports(MAX_SLICE_PORTS), false, null],
    ['one TCP port past it', ports(MAX_SLICE_PORTS + 1), false, MESSAGE],
    // Through the gateways only TCP is carried: UDP ports do not count.
    ['TCP at the limit, UDP beside', [...ports(MAX_SLICE_PORTS), ...ports(5, 'UDP', 30000)], false, null],
    // A remote-discovery mirror carries every port.
    [
      'every port counts in remote discovery',
      [...ports(MAX_SLICE_PORTS), ...ports(1, 'UDP', 30000)],
      true,
      `${MAX_SLICE_PORTS + 1} ports: a mirror's EndpointSlice holds at most ${MAX_SLICE_PORTS} ports (the Kubernetes API's limit), so it is not mirrored`,
    ],
  ])('%s', (_what, servicePorts, direct, message) => {
    const skip = slicePortsSkip(remoteService('many', { ports: servicePorts }), direct);
    expect(skip).toEqual(message === null ? null : { reason: 'InvalidService', message });
  });

  it('plans nothing for a new mirror, not even its namespace', () => {
    const plan = planMirror(input());
    expect(plan.status).toEqual({
      namespace: 'default',
      name: 'many',
      reason: 'InvalidService',
      message: MESSAGE,
    });
    expect(plan.actions).toEqual([]);
  });

  it('plans nothing for a remote-discovery mirror either', () => {
    const service = remoteService('many', { ports: ports(MAX_SLICE_PORTS + 1, 'UDP') });
    const plan = planMirror({
      ...input(service),
      target: { type: 'direct', endpoints: NO_DIRECT_ENDPOINTS },
    });
    expect(plan.status.reason).toBe('InvalidService');
    expect(plan.actions).toEqual([]);
  });

  it('deletes a mirror whose Service grew past the limit, as on any other InvalidService', () => {
    const labels = ourLabels('west');
    const local = {
      namespaceExists: true,
      service: { metadata: { name: 'many-west', namespace: 'default', labels } },
      slice: {
        metadata: {
          name: 'many-west',
          namespace: 'default',
          labels: { ...labels, 'endpointslice.kubernetes.io/managed-by': 'mirror.isthmus.dev' },
        },
        addressType: 'IPv4',
        endpoints: [],
      },
    };
    const plan = planMirror({ ...input(), local });
    expect(plan.status.reason).toBe('InvalidService');
    expect(plan.actions).toEqual([
      { kind: 'deleteSlice', namespace: 'default', name: 'many-west' },
      { kind: 'deleteService', namespace: 'default', name: 'many-west' },
    ]);
  });
});
