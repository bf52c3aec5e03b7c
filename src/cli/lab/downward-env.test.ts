import { describe, expect, it } from 'vitest';
import type { V1Pod } from '../../kube/types.js';
import { downwardEnv } from './downward-env.js';

const POD: V1Pod = {
  metadata: {
    name: 'isthmus-controller-2dhvthqkt8-fbn4m',
    namespace: 'isthmus-system',
    uid: 'u-1',
    labels: { 'app.kubernetes.io/name': 'isthmus-controller' },
    annotations: { 'prometheus.io/port': '4191' },
  },
  spec: { nodeName: 'west-node', serviceAccountName: 'isthmus-controller', containers: [] },
  status: { podIP: '127.0.2.4', podIPs: [{ ip: '127.0.2.4' }, { ip: '::1' }], hostIP: '127.0.2.1' },
};

const withEnv = (env: NonNullable<NonNullable<V1Pod['spec']>['containers'][number]['env']>): V1Pod => ({
  ...POD,
  spec: { ...POD.spec!, containers: [{ name: 'controller', env }] },
});

const field = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });

describe('downwardEnv (the kubelet resolving a container env from its pod)', () => {
  it.each([
    ['metadata.name', 'isthmus-controller-2dhvthqkt8-fbn4m'],
    ['metadata.namespace', 'isthmus-system'],
    ['metadata.uid', 'u-1'],
    ["metadata.labels['app.kubernetes.io/name']", 'isthmus-controller'],
    ["metadata.annotations['prometheus.io/port']", '4191'],
    ['spec.nodeName', 'west-node'],
    ['spec.serviceAccountName', 'isthmus-controller'],
    ['status.hostIP', '127.0.2.1'],
    ['status.podIP', '127.0.2.4'],
    ['status.podIPs', '127.0.2.4,::1'],
  ])('%s → %s', (fieldPath, value) => {
    expect(downwardEnv(withEnv([field('V', fieldPath)]))).toEqual({ V: value });
  });

  it('takes only the fieldRef entries, and leaves out what the pod has no value for', () => {
    const env = withEnv([
      field('POD_NAME', 'metadata.name'),
      { name: 'NODE_OPTIONS', value: '--max-semi-space-size=16' },
      field('NO_SUCH_FIELD', 'spec.hostname'),
      field('NO_SUCH_LABEL', "metadata.labels['absent']"),
    ]);
    expect(downwardEnv(env)).toEqual({ POD_NAME: 'isthmus-controller-2dhvthqkt8-fbn4m' });
    expect(downwardEnv(POD)).toEqual({});
  });
});
