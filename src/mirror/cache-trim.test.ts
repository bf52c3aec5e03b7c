import { describe, expect, it } from 'vitest';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { trimLocalService, trimRemoteService, trimRemoteSlice } from './cache-trim.js';

const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': {} } }];
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function svc(): V1Service {
  return {
    metadata: {
      name: 'web',
      namespace: 'apps',
      uid: 'u1',
      resourceVersion: '7',
      labels: { app: 'web', 'mirror.linkerd.io/exported': 'true' },
      annotations: { team: 'a', [LAST_APPLIED]: '{"big":"json"}' },
      managedFields,
    },
    spec: {
      type: 'ClusterIP',
      clusterIP: 'None',
      sessionAffinity: 'None',
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    },
    status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
  };
}

describe('cache trims', () => {
  it('remote Services keep labels, copied annotations, type, clusterIP and ports; lose the rest', () => {
    const out = trimRemoteService(svc());
    expect(out.metadata).toEqual({
      name: 'web',
      namespace: 'apps',
      uid: 'u1',
      resourceVersion: '7',
      labels: { app: 'web', 'mirror.linkerd.io/exported': 'true' },
      annotations: { team: 'a' },
      managedFields: undefined,
    });
    expect(out.spec).toEqual({ type: 'ClusterIP', clusterIP: 'None', ports: svc().spec?.ports });
    expect(out.status).toBeUndefined();
  });

  it('local Services keep every annotation (compared with the desired mirror)', () => {
    const out = trimLocalService(svc());
    expect(out.metadata?.annotations).toEqual(svc().metadata?.annotations);
    expect(out.metadata?.managedFields).toBeUndefined();
    expect(out.status).toBeUndefined();
  });

  it('remote slices keep identity, labels, addresses, conditions, hostnames and ports only', () => {
    const slice: V1EndpointSlice = {
      metadata: {
        name: 'web-x',
        namespace: 'apps',
        resourceVersion: '9',
        labels: { 'kubernetes.io/service-name': 'web' },
        annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': 'now' },
        managedFields,
      },
      addressType: 'IPv4',
      endpoints: [
        { addresses: ['10.0.0.1'], conditions: { ready: true }, hostname: 'web-0', nodeName: 'n1' },
        {
          addresses: ['10.0.0.2'],
          conditions: { ready: false, serving: true, terminating: true },
          targetRef: { kind: 'Pod', name: 'p' },
          zone: 'z1',
        },
        { addresses: ['10.0.0.3'] },
      ],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    };
    const out = trimRemoteSlice(slice);
    const again = trimRemoteSlice(structuredClone(slice));
    // Conditions and port lists are shared between slices: one small object per endpoint.
    expect(out.endpoints?.[0]?.conditions).toBe(again.endpoints?.[0]?.conditions);
    expect(out.ports).toBe(again.ports);
    expect(out).toEqual({
      metadata: { name: 'web-x', namespace: 'apps', resourceVersion: '9', labels: slice.metadata?.labels },
      addressType: 'IPv4',
      endpoints: [
        { addresses: ['10.0.0.1'], conditions: { ready: true }, hostname: 'web-0' },
        { addresses: ['10.0.0.2'], conditions: { ready: false, serving: true, terminating: true } },
        { addresses: ['10.0.0.3'] },
      ],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
  });
});
