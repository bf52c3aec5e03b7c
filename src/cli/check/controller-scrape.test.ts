import { describe, expect, it } from 'vitest';
import type { V1Pod } from '../../kube/types.js';
import { podTakesTraffic } from './controller-scrape.js';

const pod = (phase: string, ready: string | undefined, terminating = false): V1Pod => ({
  metadata: {
    name: 'isthmus-gateway-7d9f-abcde',
    ...(terminating ? { deletionTimestamp: new Date('2030-01-01T00:00:00Z') } : {}),
  },
  status: {
    phase,
    podIP: '10.244.1.7',
    ...(ready === undefined ? {} : { conditions: [{ type: 'Ready', status: ready }] }),
  },
});

describe('podTakesTraffic', () => {
  // The mirrors' slices list the gateway pods their EndpointSlices call ready (gateway-addresses.ts).
  it.each<[string, V1Pod, boolean]>([
    ['running and ready', pod('Running', 'True'), true],
    ['running, not ready yet (no certificate, egress not applied)', pod('Running', 'False'), false],
    ['running, no Ready condition yet', pod('Running', undefined), false],
    ['ready but terminating (draining: its listeners are closing)', pod('Running', 'True', true), false],
    ['pending', pod('Pending', undefined), false],
  ])('%s', (_name, p, expected) => {
    expect(podTakesTraffic(p)).toBe(expected);
  });
});
