import { describe, expect, it } from 'vitest';
import type { V1Pod } from '../../../kube/types.js';
import { pod, podStatus } from '../test-builders.js';
import { holderPodState } from './lease-holder.js';

const POD = 'isthmus-controller-7d9f8c6b5-x2k4q';
const HOLDER = `${POD}_k3j2h1`;
const running = (name = POD): V1Pod => pod(name, podStatus.running(true));
const terminating = (): V1Pod => {
  const p = running();
  p.metadata!.deletionTimestamp = new Date();
  return p;
};
/** `kill -KILL` of the run: the kubelet restarted the container in the same pod, now waiting to rerun. */
const restarted = (): V1Pod => pod(POD, podStatus.crashLooping({ exitCode: 137, reason: 'Error' }, 1));

describe('holderPodState', () => {
  it.each<[string, string | undefined, V1Pod[], string | undefined]>([
    ['no holder', undefined, [running()], undefined],
    ['a holder without `_` names no pod run', POD, [], undefined],
    [
      'a holder named after a host, not a pod of the controller Deployment (the local lab): no pod to look for',
      'build-host-01_k3j2h1',
      [running()],
      undefined,
    ],
    ['its pod runs', HOLDER, [running()], undefined],
    [
      'its pod runs, with another beside it',
      HOLDER,
      [running('isthmus-controller-7d9f8c6b5-m8p3z'), running()],
      undefined,
    ],
    [
      'its container restarted in the same pod: the new run takes the Lease at once',
      HOLDER,
      [restarted()],
      undefined,
    ],
    ['the pod name is what comes before the last `_`', `${POD}_a_b`, [running(`${POD}_a`)], undefined],
    [
      'its pod is gone, another runs (the pod replaced)',
      HOLDER,
      [running('isthmus-controller-7d9f8c6b5-m8p3z')],
      'is gone',
    ],
    ['its pod is gone, none left', HOLDER, [], 'is gone'],
    ['its pod is terminating', HOLDER, [terminating()], 'is terminating'],
    [
      'its pod failed (evicted)',
      HOLDER,
      [pod(POD, { phase: 'Failed', reason: 'Evicted' })],
      'is not running (phase Failed)',
    ],
    ['its pod has no phase yet', HOLDER, [pod(POD, {})], 'is not running (phase unknown)'],
  ])('%s', (_case, holder, pods, expected) => {
    expect(holderPodState(holder, pods)).toEqual(
      expected && { pod: holder!.slice(0, holder!.lastIndexOf('_')), state: expected },
    );
  });
});
