import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { V1EndpointSlice } from '../kube/types.js';
import { waitFor } from '../wait-for.js';
import {
  GatewayListening,
  type GatewayListeningOptions,
  gatewayAdminUrls,
  HOLD_MS,
  type ListenedRoute,
  listenedByAll,
} from './gateway-listening.js';
import { forwardedPorts } from './plan-mirror.js';
import { mirrorOwner } from './port-allocator.js';

/** The mirror Service every test port belongs to, as `/routes` names it (`namespace/name`). */
const MIRROR = 'test/podinfo-west';
/** Its allocator owner (`<cluster>/<namespace>/<name>`): what `owner` says holds a port. */
const OWNER = mirrorOwner('west', 'test', 'podinfo-west');

/**
 * A GatewayListening whose gateway pods' `/routes` answer `routes(host)` as ports of west's `MIRROR`
 * (undefined: it does not answer), the pods at `addresses`; `owner` says who holds a port.
 */
function listening(
  routes: (host: string) => (number | ListenedRoute)[] | undefined,
  addresses = ['10.0.0.5'],
  extra: Partial<GatewayListeningOptions> = {},
) {
  let polls = 0;
  const resolved: number[][] = [];
  const l = new GatewayListening({
    owner: () => OWNER,
    // A clock that stands still unless a test moves it: no port's hold runs out on a slow machine,
    // which would list it anyway and hide what a test checks.
    now: () => 0,
    ...extra,
    addresses: () => addresses,
    urls: (a) => gatewayAdminUrls('http://isthmus-gateway-admin.isthmus-system.svc:4191', a, false),
    onResolved: (ports) => resolved.push(ports),
    fetchRoutes: async (url) => {
      polls++;
      const answer = routes(url.hostname);
      if (answer === undefined) throw new Error('refused');
      return answer.map((r) => (typeof r === 'number' ? { port: r, mirror: MIRROR, cluster: 'west' } : r));
    },
  });
  return { l, resolved, polls: () => polls };
}

describe('GatewayListening', () => {
  it('holds a port back until the gateway lists it, then resyncs its mirror alone', async () => {
    let open: number[] = [];
    const { l, resolved, polls } = listening(() => open);
    expect(l.ports([20001])).toEqual(new Set());
    await waitFor('the first answer', () => polls() >= 1);
    expect(l.ports([20001])).toEqual(new Set());
    expect(resolved).toEqual([]);
    open = [20001];
    await waitFor('the port seen', () => resolved.length === 1);
    expect(resolved).toEqual([[20001]]);
    expect(l.ports([20001])).toEqual(new Set([20001]));
    l.stop();
  });

  it('while its admin does not answer, a resync wants nothing again: no sync is told twice for a port', async () => {
    const { l, resolved, polls } = listening(() => undefined);
    l.ports([20001]);
    await waitFor('the failed answer', () => resolved.length === 1);
    // The resync it caused asks for the port again: nothing is held back, and nobody is told again.
    expect(l.ports([20001])).toBeUndefined();
    const before = polls();
    await waitFor('asked again', () => polls() > before);
    expect(l.ports([20001])).toBeUndefined();
    expect(resolved).toEqual([[20001]]);
    l.stop();
  });

  it('holds nothing back without a ready gateway, or while its admin does not answer', async () => {
    expect(listening(() => [], []).l.ports([20001])).toBeUndefined();
    const { l, resolved } = listening(() => undefined);
    l.ports([20001]);
    await waitFor('the failed answer', () => resolved.length === 1);
    expect(l.ports([20001])).toBeUndefined();
    l.stop();
  });

  it("counts a listener for the mirror that holds its port now: a port freed by one mirror and given to another is not the new one's until the gateway says so", async () => {
    let routes: ListenedRoute[] = [{ port: 20001, mirror: 'test/cart-west', cluster: 'west' }];
    let owner = mirrorOwner('west', 'test', 'cart-west');
    const { l, resolved, polls } = listening(() => routes, ['10.0.0.5'], { owner: () => owner });
    l.ports([20001]);
    await waitFor('cart-west listened on', () => resolved.length === 1);
    expect(l.ports([20001])).toEqual(new Set([20001]));
    // cart-west is deleted and its port given to podinfo-west; the gateway still serves cart-west's.
    owner = OWNER;
    expect(l.ports([20001])).toEqual(new Set());
    const before = polls();
    await waitFor('asked again', () => polls() > before + 1);
    expect(resolved).toHaveLength(1);
    routes = [{ port: 20001, mirror: MIRROR, cluster: 'west' }];
    await waitFor('podinfo-west listened on', () => resolved.length === 2);
    expect(l.ports([20001])).toEqual(new Set([20001]));
    l.stop();
  });

  it("counts a listener for the cluster whose mirror holds its port: a port given at the same name to another cluster's mirror (api-us of west, then api of us-west, both api-us-west) is not the new one's until the gateway tunnels it there", async () => {
    const mirror = 'test/api-us-west';
    let routes: ListenedRoute[] = [{ port: 20001, mirror, cluster: 'west' }];
    let owner = mirrorOwner('west', 'test', 'api-us-west');
    const { l, resolved, polls } = listening(() => routes, ['10.0.0.5'], { owner: () => owner });
    l.ports([20001]);
    await waitFor("west's api-us-west listened on", () => resolved.length === 1);
    expect(l.ports([20001])).toEqual(new Set([20001]));
    // West lets the name go and us-west's mirror there gets the port: the gateway still tunnels it to west.
    owner = mirrorOwner('us-west', 'test', 'api-us-west');
    expect(l.ports([20001])).toEqual(new Set());
    const before = polls();
    await waitFor('asked again', () => polls() > before + 1);
    expect(resolved).toHaveLength(1);
    expect(l.ports([20001])).toEqual(new Set());
    routes = [{ port: 20001, mirror, cluster: 'us-west' }];
    await waitFor("us-west's api-us-west listened on", () => resolved.length === 2);
    expect(l.ports([20001])).toEqual(new Set([20001]));
    l.stop();
  });

  it('a gateway whose /routes names no cluster (one older than the cluster in its routes) is compared by namespace/name alone', async () => {
    const { l, resolved } = listening(() => [{ port: 20001, mirror: MIRROR }]);
    l.ports([20001]);
    await waitFor('the port seen', () => resolved.length === 1);
    expect(l.ports([20001])).toEqual(new Set([20001]));
    l.stop();
  });

  it('tells only the ports that resolved, once: a port already listened on is not told again', async () => {
    let open = [20001];
    const { l, resolved, polls } = listening(() => open);
    l.ports([20001, 20002]);
    await waitFor('20001 listened on', () => resolved.length === 1);
    const before = polls();
    await waitFor('asked again for 20002', () => polls() > before + 1);
    open = [20001, 20002];
    await waitFor('20002 listened on', () => resolved.length === 2);
    expect(resolved).toEqual([[20001], [20002]]);
    l.stop();
  });
});

describe('GatewayListening with a gateway that never lists the port', () => {
  it('lists it once its hold runs out, and says so: a gateway older than the controller must not wait for it for ever', async () => {
    let now = 1_000_000;
    const late: number[][] = [];
    const { l, resolved, polls } = listening(() => [20001], ['10.0.0.5'], {
      now: () => now,
      onOverdue: (ports) => late.push(ports),
    });
    expect(l.ports([20001, 20002])).toEqual(new Set());
    await waitFor('the first answer', () => resolved.length === 1 && polls() >= 1);
    expect(l.ports([20001, 20002])).toEqual(new Set([20001]));
    expect(late).toEqual([]);
    now += HOLD_MS;
    await waitFor('the hold run out', () => resolved.length === 2);
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
    const { l, resolved, polls } = listening((host) => open.get(host), ['10.0.0.5', '10.0.0.6']);
    l.ports([20001]);
    await waitFor('the first answers', () => polls() >= 2);
    expect(l.ports([20001])).toEqual(new Set());
    open.set('10.0.0.6', [20001]);
    await waitFor('the second replica listening', () => resolved.length === 1);
    expect(l.ports([20001])).toEqual(new Set([20001]));
    l.stop();
  });
});

describe('GatewayListening over HTTP', () => {
  let server: Server | undefined;
  afterEach(async () => {
    const s = server;
    server = undefined;
    if (s) await new Promise((r) => s.close(r));
  });

  /** A gateway admin whose `/routes` answers `routes()` as the gateway's admin.ts writes it. */
  async function admin(routes: () => unknown[]): Promise<string> {
    const s = createServer((req, res) => {
      if (req.url !== '/routes') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ routes: routes(), refused: [] }));
    });
    server = s;
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  }

  it("reads each listener's cluster from /routes: a port still tunnelled to west is not us-west's mirror's", async () => {
    const route = {
      port: 20001,
      remote: { host: '10.1.0.1', port: 4143 },
      authority: 'a',
      mirror: 'test/api-us-west',
    };
    let cluster = 'west';
    const url = await admin(() => [{ ...route, cluster }]);
    const resolved: number[][] = [];
    let polls = 0;
    const l = new GatewayListening({
      addresses: () => ['127.0.0.1'],
      urls: () => [new URL('/routes', url)],
      owner: () => mirrorOwner('us-west', 'test', 'api-us-west'),
      onResolved: (ports) => resolved.push(ports),
      now: () => 0,
    });
    // The default fetch: the only stand-in is the admin server, whose requests are counted here.
    server?.on('request', () => polls++);
    l.ports([20001]);
    await waitFor('asked twice', () => polls >= 2);
    expect(resolved).toEqual([]);
    expect(l.ports([20001])).toEqual(new Set());
    cluster = 'us-west';
    await waitFor("us-west's listener seen", () => resolved.length === 1);
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
  /** West's route, or (cluster null) one of a gateway that names no cluster. */
  const r = (port: number, mirror = MIRROR, cluster: string | null = 'west'): ListenedRoute => ({
    port,
    mirror,
    ...(cluster === null ? {} : { cluster }),
  });
  it.each<[string, (ListenedRoute[] | undefined)[], Map<number, string> | 'unanswered']>([
    [
      'the ports all list',
      [
        [r(1), r(2)],
        [r(2), r(3)],
      ],
      new Map([[2, OWNER]]),
    ],
    [
      'one replica',
      [[r(1), r(2)]],
      new Map([
        [1, OWNER],
        [2, OWNER],
      ]),
    ],
    ['the same port for another mirror: not listed', [[r(1)], [r(1, 'test/cart-west')]], new Map()],
    [
      "the same port for another cluster's mirror of that name: not listed",
      [[r(1)], [r(1, MIRROR, 'us-west')]],
      new Map(),
    ],
    ['a gateway that names no cluster: the Service alone', [[r(1, MIRROR, null)]], new Map([[1, MIRROR]])],
    [
      'replicas of both ages (a rollout): the Service alone, as the older one says no more',
      [[r(1)], [r(1, MIRROR, null)]],
      new Map([[1, MIRROR]]),
    ],
    [
      'replicas tunnelling it to two clusters, beside an older one: not listed',
      [[r(1, MIRROR, null)], [r(1)], [r(1, MIRROR, 'us-west')]],
      new Map(),
    ],
    ['one does not answer: not known', [[r(1)], undefined], 'unanswered'],
  ])('%s', (_what, answers, want) => {
    expect(listenedByAll(answers)).toEqual(want);
  });
});

describe('forwardedPorts', () => {
  const slice: V1EndpointSlice = { endpoints: [], addressType: 'IPv4', ports: [{ port: 20001 }] };
  it.each([
    ['unknown: every port', undefined, slice, undefined],
    ['listened on, plus those listed already', new Set([20002]), slice, new Set([20001, 20002])],
    ['a new slice: only those listened on', new Set<number>(), undefined, new Set()],
  ])('%s', (_what, listened, existing, want) => {
    expect(forwardedPorts(listened, existing, [20001, 20002])).toEqual(want);
  });
  it('a serving slice whose ports all moved lists the new ones at once: it would be empty, so not ready, and a failover would drop a mirror that serves', () => {
    expect(forwardedPorts(new Set(), slice, [20002, 20003])).toBeUndefined();
    // One of the new ports listened on already: the others wait.
    expect(forwardedPorts(new Set([20002]), slice, [20002, 20003])).toEqual(new Set([20001, 20002]));
  });
});
