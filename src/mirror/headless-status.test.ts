/** The one status entry of a headless Service whose pods are not all mirrored (headlessStatus). */
import { describe, expect, it } from 'vitest';
import type { ServiceMirrorStatus } from './plan-mirror.js';
import { headlessStatus, type PodLeftOut } from './skip-reason.js';

const mirrored: ServiceMirrorStatus = { namespace: 'shop', name: 'db', reason: 'Mirrored' };
const pod = (hostname: string, reason: PodLeftOut['status']['reason'], message: string): PodLeftOut => ({
  hostname,
  status: { reason, message },
});
const taken = (hostname: string) => pod(hostname, 'Conflict', `${hostname}-west is taken`);

describe('headlessStatus', () => {
  it.each<[string, ServiceMirrorStatus, PodLeftOut[], ServiceMirrorStatus]>([
    ['every pod mirrored: the parent as it is', mirrored, [], mirrored],
    [
      "the parent's own skip wins",
      { ...mirrored, reason: 'MissingNamespace', message: 'namespace shop does not exist locally' },
      [taken('web')],
      { ...mirrored, reason: 'MissingNamespace', message: 'namespace shop does not exist locally' },
    ],
    [
      'a pod left out: its reason, named with its own message',
      mirrored,
      [taken('web')],
      {
        ...mirrored,
        reason: 'Conflict',
        message: '1 pod(s) left out of db-west, without a DNS name there: pod web: web-west is taken',
      },
    ],
    [
      'PortRangeExhausted wins (the watcher retries it); past three pods, a count; the parent note kept',
      { ...mirrored, message: 'dns (53/UDP) not mirrored: only TCP crosses the gateways' },
      [
        taken('a'),
        taken('b'),
        pod('c', 'PortRangeExhausted', 'no egress port left for port http'),
        taken('d'),
      ],
      {
        ...mirrored,
        reason: 'PortRangeExhausted',
        message:
          '4 pod(s) left out of db-west, without a DNS name there: pod a: a-west is taken; pod b: b-west is taken; ' +
          'pod c: no egress port left for port http; 1 more; dns (53/UDP) not mirrored: only TCP crosses the gateways',
      },
    ],
  ])('%s', (_what, parent, leftOut, want) => {
    expect(headlessStatus(parent, 'db-west', leftOut)).toEqual(want);
  });
});
