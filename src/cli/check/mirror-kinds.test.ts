/**
 * The mirror checks over what a cluster mid-migration really holds: every kind of mirror the
 * controller writes (its planner's output), as the gateway admits them (`admitRoutes`), next to a
 * mirror and a federated Service that Linkerd's service mirror wrote. Each passes, and nothing is
 * said of Linkerd's.
 */
import { describe, expect, it } from 'vitest';
import { admitRoutes } from '../../gateway/watch-mirrors.js';
import { vouchedPorts } from '../../kube/linkerd-mirror.js';
import type { V1EndpointSlice, V1Service } from '../../kube/types.js';
import { mirrorsAsHeadless } from '../../mirror/mirror-kind.js';
import { type MirrorTarget, planMirror } from '../../mirror/plan-mirror.js';
import { linkConfig, remoteService } from '../../mirror/test-builders.js';
import { checkGatewayListeners } from './checks/gateway-listeners.js';
import { checkMirrorEndpoints, checkMirrorsOwned } from './checks/mirrors.js';
import { mirrorFacts } from './gather.js';
import { healthyFacts, link } from './test-builders.js';

const westLink = link('west');
const config = linkConfig('west', { gatewayAddress: '10.0.0.7', gatewayPort: 4143, mirrorHeadless: true });

let uid = 0;
/** The Service and slice the controller writes for one remote Service and target, as stored. */
function written(remote: V1Service, target: MirrorTarget, egress: [string, number][] = []) {
  const plan = planMirror({
    remote: { service: remote, readyEndpointCount: 1 },
    link: config,
    gateway: { alive: true, addresses: ['10.244.0.5'], remote: '10.0.0.7:4143' },
    local: { namespaceExists: true },
    egressPorts: new Map(egress),
    target,
  });
  const objects: (V1Service | V1EndpointSlice)[] = [];
  for (const a of plan.actions) {
    if (a.kind === 'applyService')
      objects.push({ ...a.service, metadata: { ...a.service.metadata, uid: `uid-${++uid}` } });
    if (a.kind === 'applySlice') objects.push(a.slice);
  }
  return objects;
}

const web = remoteService('web', { namespace: 'test' });
const db = remoteService('db', { namespace: 'test', headless: true });
/** A Deployment behind a headless Service: pods without a hostname, so an ordinary mirror (mirror-kind.ts). */
const grpc = remoteService('grpc', { namespace: 'test', headless: true });
const unnamedPods = { total: 2, named: false };
const ours = [
  ...written(web, { type: 'service' }, [['http', 20000]]),
  ...written(db, { type: 'pod', hostname: 'db-0' }, [['http', 20001]]),
  ...written(db, { type: 'headless', pods: [{ hostname: 'db-0', clusterIP: '10.96.0.20' }] }),
  ...written(grpc, { type: 'service' }, [['http', 20002]]),
];
const linkerds: V1Service[] = [
  {
    metadata: {
      name: 'cart-west',
      namespace: 'test',
      labels: { 'mirror.linkerd.io/mirrored-service': 'true', 'mirror.linkerd.io/cluster-name': 'west' },
      annotations: {
        'mirror.linkerd.io/remote-svc-fq-name': 'cart.test.svc.cluster.local',
        'mirror.linkerd.io/remote-resource-version': '4711',
      },
    },
    spec: { ports: [{ name: 'http', port: 80 }] },
  },
  {
    metadata: {
      name: 'cart3-federated',
      namespace: 'test',
      labels: { 'mirror.linkerd.io/mirrored-service': 'true', app: 'cart3' },
      annotations: { 'multicluster.linkerd.io/remote-discovery': 'cart3@west' },
    },
    spec: { ports: [{ name: 'http', port: 80 }] },
  },
];
/** What kube's EndpointSlice mirroring makes of Linkerd's Endpoints: its labels and annotations. */
const linkerdSlice: V1EndpointSlice = {
  addressType: 'IPv4',
  metadata: {
    name: 'cart-west-7xk2p',
    namespace: 'test',
    labels: {
      'endpointslice.kubernetes.io/managed-by': 'endpointslicemirroring-controller.k8s.io',
      'kubernetes.io/service-name': 'cart-west',
      'mirror.linkerd.io/mirrored-service': 'true',
      'mirror.linkerd.io/cluster-name': 'west',
    },
    annotations: { 'mirror.linkerd.io/remote-gateway-identity': 'linkerd-gateway.linkerd-multicluster' },
  },
  endpoints: [{ addresses: ['172.18.0.9'], conditions: { ready: true } }],
};

describe('the mirror checks mid-migration', () => {
  it('pass on every kind of mirror the controller writes, and say nothing of Linkerd', () => {
    expect(mirrorsAsHeadless(grpc, config, unnamedPods, undefined)).toBe(false);
    const services = [...ours.filter((o) => !('addressType' in o)), ...linkerds] as V1Service[];
    const slices = [...ours.filter((o) => 'addressType' in o), linkerdSlice] as V1EndpointSlice[];
    expect(services.map((s) => s.metadata?.name)).toEqual([
      'web-west',
      'db-0-west',
      'db-west',
      'grpc-west',
      'cart-west',
      'cart3-federated',
    ]);
    // The planner's own slices vouch for every egress port it gives a mirror, of every kind.
    const admitted = admitRoutes(services, {
      links: [westLink],
      vouched: vouchedPorts(slices),
      egressRange: { first: 20000, last: 29999 },
    });
    expect(admitted.refused).toEqual([]);
    const facts = {
      ...healthyFacts({ anchorPem: '', issuerPem: '', westChain: [] }),
      mirrors: { ok: true as const, value: mirrorFacts(services, slices) },
      gatewayListeners: {
        ok: true as const,
        value: [
          {
            pod: 'isthmus-gateway-0',
            ready: true,
            ports: admitted.routes.map((r) => r.port),
            refused: admitted.refused,
          },
        ],
      },
    };
    expect(facts.mirrors.value.map((m) => m.name)).toEqual(['db-0-west', 'db-west', 'grpc-west', 'web-west']);
    expect(admitted.routes.map((r) => `${r.port} ${r.mirror}`)).toEqual([
      '20000 test/web-west',
      '20001 test/db-0-west',
      '20002 test/grpc-west',
    ]);
    for (const check of [checkMirrorEndpoints, checkMirrorsOwned, checkGatewayListeners])
      expect(check(facts)).toMatchObject({ status: 'ok', hints: [] });
  });
});
