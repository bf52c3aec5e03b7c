import { describe, expect, it } from 'vitest';
import type { V1EndpointSlice } from '../kube/types.js';
import { waitFor } from '../wait-for.js';
import {
  GatewayListening,
  type GatewayListeningOptions,
  gatewayAdminUrls,
  HOLD_MS,
  listenedByAll,
} from './gateway-listening.js';
import { forwardedPorts } from './plan-mirror.js';

/**
 * A GatewayListening whose gateway pods' `/routes` answer `routes(host)` (undefined: it does not
 * answer), the pods at `addresses`.
 */
function listening(
  routes: (host: string) => number[] | undefined,
  addresses = ['10.0.0.5'],
  extra: Partial<GatewayListeningOptions> = {},
) {
  let changes = 0;
  const l = new GatewayListening({
    ...extra,
    addresses: () => addresses,
    urls: (a) => gatewayAdminUrls('http://isthmus-gateway-admin.isthmus-system.svc:4191', a, false),
    held: () => true,
    onChange: () => changes++,
    fetchPorts: async (url) => {
      const ports = routes(url.hostname);
      if (ports === undefined) throw new Error('refused');
      return ports;
    },
  });
  return { l, changes: () => changes };
}

describe('GatewayListening', () => {
  it('holds a port back until the gateway lists it, then tells the syncs', async () => {
    let open: number[] = [];
    const { l, changes } = listening(() => open);
    expect(l.ports([20001])).toEqual(new Set());
    await waitFor('the first answer', () => changes() === 1);
    expect(l.ports([20001])).toEqual(new Set());
    open = [20001];
    await waitFor('the port seen', () => changes() === 2);
    expect(l.ports([20001])).toEqual(new Set([20001]));
    l.stop();
  });

  it('holds nothing back without a ready gateway, or while its admin does not answer', async () => {
    expect(listening(() => [], []).l.ports([20001])).toBeUndefined();
    const { l, changes } = listening(() => undefined);
    l.ports([20001]);
    await waitFor('the failed answer', () => changes() === 1);
    expect(l.ports([20001])).toBeUndefined();
    l.stop();
  });
});

describe('GatewayListening with a gateway that never lists the port', () => {
  it('lists it once its hold runs out, and says so: a gateway older than the controller must not wait for it for ever', async () => {
    let now = 1_000_000;
    const late: number[][] = [];
    const { l, changes } = listening(() => [20001], ['10.0.0.5'], {
      now: () => now,
      onOverdue: (ports) => late.push(ports),
    });
    expect(l.ports([20001, 20002])).toEqual(new Set());
    await waitFor('the first answer', () => changes() === 1);
    expect(l.ports([20001, 20002])).toEqual(new Set([20001]));
    expect(late).toEqual([]);
    now += HOLD_MS;
    await waitFor('the hold run out', () => changes() === 2);
    expect(late).toEqual([[20002]]);
    expect(l.ports([20001, 20002])).toEqual(new Set([20001, 20002]));
    l.stop();
  });
});

describe('GatewayListening with several gateway replicas', () => {
  it('counts a port once every ready replica lists it: kube-proxy sends callers to each', async () => {
    const open = new Map<string, number[]>([
      ['10.0.0.5', [20001]],
      ['10.0.0.6', []],
    ]);
    const { l, changes } = listening((host) => open.get(host), ['10.0.0.5', '10.0.0.6']);
    l.ports([20001]);
    await waitFor('the first answers', () => changes() === 1);
    expect(l.ports([20001])).toEqual(new Set());
    open.set('10.0.0.6', [20001]);
    await waitFor('the second replica listening', () => changes() === 2);
    expect(l.ports([20001])).toEqual(new Set([20001]));
    l.stop();
  });
});

describe('gatewayAdminUrls', () => {
  const admin = 'http://isthmus-gateway-admin.isthmus-system.svc.cluster.local:4191';
  it.each([
    [
      'each ready pod at the admin port',
      ['10.0.0.5', '10.0.0.6'],
      false,
      ['http://10.0.0.5:4191/routes', 'http://10.0.0.6:4191/routes'],
    ],
    ['an IPv6 pod in brackets', ['fd00::5'], false, ['http://[fd00::5]:4191/routes']],
    ['no ready pod: nobody to ask', [], false, []],
    ['fixed --gateway-endpoints: the admin URL itself', ['127.0.0.2'], true, [`${admin}/routes`]],
  ])('%s', (_what, addresses, fixed, want) => {
    expect(gatewayAdminUrls(admin, addresses, fixed).map(String)).toEqual(want);
  });
});

describe('listenedByAll', () => {
  it.each([
    [
      'the ports all list',
      [
        [1, 2],
        [2, 3],
      ],
      new Set([2]),
    ],
    ['one replica', [[1, 2]], new Set([1, 2])],
    ['one does not answer: not known', [[1], undefined], 'unanswered'],
  ] as const)('%s', (_what, answers, want) => {
    expect(listenedByAll(answers as unknown as (number[] | undefined)[])).toEqual(want);
  });
});

describe('forwardedPorts', () => {
  const slice: V1EndpointSlice = { endpoints: [], addressType: 'IPv4', ports: [{ port: 20001 }] };
  it.each([
    ['unknown: every port', undefined, slice, undefined],
    ['listened on, plus those listed already', new Set([20002]), slice, new Set([20001, 20002])],
    ['a new slice: only those listened on', new Set<number>(), undefined, new Set()],
  ])('%s', (_what, listened, existing, want) => {
    expect(forwardedPorts(listened, existing)).toEqual(want);
  });
});
