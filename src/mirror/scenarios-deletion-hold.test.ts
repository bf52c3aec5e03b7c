/**
 * A remote list that shrank does not delete every mirror at once (deletion-hold.ts): a remote API
 * restored from an etcd snapshot (`etcdutl --bump-revision --mark-compacted`) answers 410 Gone and
 * then an empty list until its Services are restored; a controller restarted meanwhile lists it
 * empty too. The mirrors are kept for the grace period, then what is still absent goes. A user
 * deleting Services (watch DELETED) or un-selecting them (a selector edit) is never held.
 */
import { describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.js';
import {
  EXPORTED_LABEL,
  REMOTE_KUBECONFIG_KEY,
  REMOTE_KUBECONFIG_SECRET_TYPE,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { CoreV1Event } from '../kube/types.js';
import { startSandbox } from '../sandbox/index.js';
import type { HoldClock } from './deletion-hold.js';
import { linkObject } from './test-builders.js';
import {
  addReaderToken,
  type Cluster,
  condition,
  editLinkSpec,
  exportService,
  getLink,
  getSlice,
  installedAs,
  metricValue,
  mirrorIdentityOf,
  mirrorsOf,
  setCredentialsToken,
  type World,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();
const GRACE_MS = 120_000;
const HELD_METRIC = 'isthmus_mirror_deletions_held';

/** The hold's clock, moved by the test: nothing is released until it says so. */
class ManualClock implements HoldClock {
  private t = Date.now();
  private timers: { at: number; fn: () => void }[] = [];
  /** Timers set so far: the hold arms one whenever it judges a list. */
  armed = 0;
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    this.armed++;
    const timer = { at: this.t + ms, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }
  advance(ms: number): void {
    this.t += ms;
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const x of due) x.fn();
  }
}

/** `discovered`: exported in remote-discovery mode, a watch of their own (remote-cluster.ts). */
async function setup(
  names: string[],
  opts: Parameters<typeof startWorld>[1] = {},
  discovered: string[] = [],
) {
  const world = await startWorld(['east', 'west'], opts);
  const [east, west] = [world.c('east'), world.c('west')];
  await installedAs(west, 'west');
  for (const n of names) await exportService(west, n, { ready: 1 });
  for (const n of discovered)
    await exportService(west, n, { ready: 1, labels: { [EXPORTED_LABEL]: 'remote-discovery' } });
  addReaderToken(west, 'tok');
  await east.client.create(R.secrets, {
    metadata: { name: 'cluster-credentials-west', namespace: SYSTEM_NAMESPACE },
    type: REMOTE_KUBECONFIG_SECRET_TYPE,
    stringData: { [REMOTE_KUBECONFIG_KEY]: west.sandbox.kubeconfig({ token: 'tok', user: 'remote-reader' }) },
  });
  await east.client.create(R.links, linkObject('west'));
  const clock = new ManualClock();
  const ctl = world.controller('east', { deletionGraceMs: GRACE_MS, deletionClock: clock });
  const mirrors = names.length + discovered.length;
  await waitFor(async () => (await mirrorsOf(east, 'west')).length === mirrors, {
    what: `${mirrors} mirrors`,
  });
  await waitFor(async () => condition(await getLink(east, 'west'), 'ServicesMirrored')?.status === 'True', {
    what: 'ServicesMirrored=True',
  });
  // The steady state the tests compare against: west's gateway probed alive, so the exported
  // mirrors' slices are ready (before the first probe they are not, and turn ready at its answer).
  await waitFor(async () => condition(await getLink(east, 'west'), 'GatewayAlive')?.status === 'True', {
    what: 'GatewayAlive=True',
  });
  await waitFor(
    async () =>
      (await slices(east))
        .filter((s) => names.includes((s.name ?? '').replace(/-west$/, '')))
        .every((s) => s.endpoints?.length && s.endpoints.every((e) => e.conditions?.ready === true)),
    { what: "the exported mirrors' slices ready" },
  );
  return { world, east, west, ctl, clock };
}

/** Every mirror of west by name, with what must not change of it (uid, clusterIP, egress ports). */
async function identities(east: Cluster) {
  const mirrors = await mirrorsOf(east, 'west');
  return Object.fromEntries(mirrors.map((m) => [m.metadata?.name, mirrorIdentityOf(m)]));
}

/** The mirrors' slices as written: their version and endpoints. */
async function slices(east: Cluster) {
  const mirrors = await mirrorsOf(east, 'west');
  const all = await Promise.all(mirrors.map((m) => getSlice(east, 'default', m.metadata?.name ?? '')));
  return all.map((s) => ({
    name: s?.metadata?.name,
    rv: s?.metadata?.resourceVersion,
    endpoints: s?.endpoints,
  }));
}

/**
 * The remote API server replaced by one on the same address, restored with revisions bumped past
 * the old ones (older ones compacted: every watch gets 410 Gone) and only its namespaces back:
 * `fill` restores what else it has before the controller may read it.
 */
async function restore(w: World, fill: (c: Cluster) => Promise<void> = async () => {}, readable?: string[]) {
  const old = w.c('west');
  const oldRv = Number((await old.client.list(R.services, {})).resourceVersion);
  const port = Number(new URL(old.sandbox.url).port);
  old.client.close();
  await old.sandbox.close();
  const sandbox = await startSandbox({
    name: 'west',
    tls: false,
    port,
    bookmarkIntervalMs: 200,
    watchWindow: 5,
  });
  const c: Cluster = { sandbox, client: KubeClient.fromKubeconfigString(sandbox.kubeconfig()) };
  w.clusters.set('west', c);
  await c.client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
  await installedAs(c, 'west');
  for (let i = 0; i <= oldRv + 20; i++)
    await c.client.create(R.configMaps, { metadata: { name: `bump${i}`, namespace: 'default' } });
  await fill(c);
  addReaderToken(c, 'tok', readable);
  return c;
}

async function linkEvents(east: Cluster) {
  const list = await east.client.list<CoreV1Event>(R.events, { namespace: SYSTEM_NAMESPACE });
  return list.items.filter((e) => e.involvedObject?.kind === 'Link' && e.involvedObject.name === 'west');
}

async function servicesMirrored(east: Cluster) {
  return condition(await getLink(east, 'west'), 'ServicesMirrored');
}

async function heldMetric(ctl: { ctl: { registry: Parameters<typeof metricValue>[0] } }) {
  return metricValue(ctl.ctl.registry, HELD_METRIC, { target_cluster_name: 'west' });
}

describe('a remote list that shrank', () => {
  it('an etcd restore with no Services yet keeps every mirror as it is; the Services back, nothing changed', async () => {
    const { world, east, ctl, clock } = await setup(['a', 'b']);
    const before = await identities(east);
    const slicesBefore = await slices(east);
    const west2 = await restore(world);
    const held = await waitFor(
      async () => {
        const c = await servicesMirrored(east);
        return c?.reason === 'RemoteListShrunk' ? c : undefined;
      },
      { what: 'ServicesMirrored=False/RemoteListShrunk' },
    );
    expect(held.status).toBe('False');
    expect(held.message).toMatch(/^2 mirrors kept/);
    // Names when: the hold's deadline (not today's date, which a deadline past midnight is not).
    expect(held.message).toContain(`deleted at ${new Date(clock.now() + GRACE_MS).toISOString()}`);
    expect(await identities(east)).toEqual(before);
    expect(await slices(east)).toEqual(slicesBefore);
    expect(await heldMetric(ctl)).toBe(2);
    const warning = await waitFor(
      async () => (await linkEvents(east)).find((e) => e.reason === 'RemoteListShrunk'),
      {
        what: 'a RemoteListShrunk Event',
      },
    );
    expect(warning.type).toBe('Warning');
    expect(warning.message).toMatch(/2 mirrors/);

    for (const n of ['a', 'b']) await exportService(west2, n, { ready: 1 });
    await waitFor(async () => (await servicesMirrored(east))?.status === 'True', {
      what: 'ServicesMirrored=True',
    });
    expect(await identities(east)).toEqual(before);
    expect(await heldMetric(ctl)).toBe(0);
    expect((await linkEvents(east)).filter((e) => e.reason === 'MirrorDeleted')).toEqual([]);
  }, 60_000);

  it.each([
    ['2 exported and 2 remote-discovery', ['a', 'b'], ['c', 'd']],
    ['1 exported and 1 remote-discovery', ['a'], ['b']],
  ])(
    "mirrors spread over the Link's selectors (%s): each watch's re-list is judged with the others'",
    async (_, names, discovered) => {
      const { world, east, ctl } = await setup(names, {}, discovered);
      const before = await identities(east);
      await restore(world);
      const all = names.length + discovered.length;
      await waitFor(async () => (await servicesMirrored(east))?.message?.startsWith(`${all} mirrors kept`), {
        what: `${all} mirrors held`,
      });
      expect(await identities(east)).toEqual(before);
      expect(await heldMetric(ctl)).toBe(all);
    },
    60_000,
  );

  it("a re-list lacking few of a Link's mirrors deletes them once every watch has re-listed, without a hold", async () => {
    const { world, east, ctl, clock } = await setup(['a', 'b'], {}, ['c', 'd']);
    const before = await identities(east);
    await restore(world, async (c) => {
      for (const n of ['a', 'b']) await exportService(c, n, { ready: 1 });
      await exportService(c, 'c', { ready: 1, labels: { [EXPORTED_LABEL]: 'remote-discovery' } });
    });
    // Moved until the re-lists have come and their wait is over (none of it is a hold).
    await waitFor(
      async () => {
        clock.advance(1_000);
        return (await mirrorsOf(east, 'west')).length === 3;
      },
      { what: 'd deleted' },
    );
    const { 'd-west': _d, ...rest } = before;
    expect(await identities(east)).toEqual(rest);
    expect(await heldMetric(ctl)).toBe(0);
    expect((await linkEvents(east)).filter((e) => e.reason === 'RemoteListShrunk')).toEqual([]);
  }, 60_000);

  it('a reconnect during a hold (credentials rotated) keeps its end: the mirrors go when it was due', async () => {
    const { world, east, clock } = await setup(['a', 'b']);
    const west2 = await restore(world);
    const held = await waitFor(
      async () => {
        const c = await servicesMirrored(east);
        return c?.reason === 'RemoteListShrunk' ? c : undefined;
      },
      { what: 'RemoteListShrunk' },
    );
    clock.advance(GRACE_MS / 2);
    const armed = clock.armed;
    addReaderToken(west2, 'tok2');
    await setCredentialsToken(east, west2, 'cluster-credentials-west', 'tok2');
    await waitFor(() => clock.armed > armed, { what: "the new connection's first list judged" });
    expect((await servicesMirrored(east))?.message).toBe(held.message);
    clock.advance(GRACE_MS / 2);
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === 0, {
      what: 'a and b deleted when due',
    });
  }, 60_000);

  it("the slices re-listed before the Services: the held mirrors' slices are kept as they were too", async () => {
    const { world, east, ctl } = await setup(['a', 'b']);
    const before = await identities(east);
    const slicesBefore = await slices(east);
    // The restored remote lets the controller list its EndpointSlices, not yet its Services.
    const west2 = await restore(world, async () => {}, ['endpointslices', 'namespaces']);
    await waitFor(() => west2.sandbox.stats().openWatches > 0, { what: 'the slices re-listed and watched' });
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'RemoteAPIAvailable')?.reason === 'Forbidden',
      {
        what: 'RemoteAPIAvailable=False/Forbidden',
      },
    );
    expect(await slices(east)).toEqual(slicesBefore);
    addReaderToken(west2, 'tok');
    await waitFor(async () => (await servicesMirrored(east))?.reason === 'RemoteListShrunk', {
      what: 'RemoteListShrunk',
    });
    expect(await slices(east)).toEqual(slicesBefore);
    expect(await identities(east)).toEqual(before);
    expect(await heldMetric(ctl)).toBe(2);
  }, 60_000);

  it('Services that never come back: their mirrors are deleted once the grace period ends, not before', async () => {
    const { world, east, ctl, clock } = await setup(['a', 'b', 'c']);
    const before = await identities(east);
    await restore(world, async (c) => {
      await exportService(c, 'a', { ready: 1 });
    });
    await waitFor(async () => (await servicesMirrored(east))?.reason === 'RemoteListShrunk', {
      what: 'RemoteListShrunk',
    });
    expect((await servicesMirrored(east))?.message).toMatch(/^2 mirrors kept/);
    clock.advance(GRACE_MS - 1);
    expect(await heldMetric(ctl)).toBe(2);
    expect(Object.keys(await identities(east)).sort()).toEqual(['a-west', 'b-west', 'c-west']);
    clock.advance(1);
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === 1, { what: 'b and c deleted' });
    expect(Object.keys(await identities(east))).toEqual(['a-west']);
    expect((await identities(east))['a-west']).toEqual(before['a-west']);
    await waitFor(async () => (await servicesMirrored(east))?.status === 'True', {
      what: 'ServicesMirrored=True',
    });
    expect(await heldMetric(ctl)).toBe(0);
  }, 60_000);

  it('a user deleting every exported Service, one by one, is never held', async () => {
    const { east, west, ctl } = await setup(['a', 'b', 'c']);
    for (const n of ['a', 'b', 'c']) await west.client.delete(R.services, 'default', n);
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === 0, { what: 'every mirror deleted' });
    expect(await heldMetric(ctl)).toBe(0);
    expect((await linkEvents(east)).filter((e) => e.reason === 'RemoteListShrunk')).toEqual([]);
  }, 30_000);

  it("a re-list that lacks the slices of a Service still there: its mirror's endpoints go, nothing is held", async () => {
    const { east, west, ctl } = await setup(['a', 'b'], { watchWindow: 5 });
    // The controller cannot list or watch while a's slice goes and history moves on: its watches
    // resume after a 410 Gone, and the re-list lacks the slice.
    addReaderToken(west, 'tok', ['namespaces']);
    west.sandbox.faults.dropWatches();
    await waitFor(
      async () => condition(await getLink(east, 'west'), 'RemoteAPIAvailable')?.reason === 'Forbidden',
      {
        what: 'RemoteAPIAvailable=False/Forbidden',
      },
    );
    await west.client.delete(R.endpointSlices, 'default', 'a-abc');
    for (let i = 0; i < 10; i++)
      await west.client.create(R.configMaps, { metadata: { name: `n${i}`, namespace: 'default' } });
    addReaderToken(west, 'tok');
    // No ready remote endpoint: the mirror's slice lists no gateway address.
    await waitFor(async () => (await getSlice(east, 'default', 'a-west'))?.endpoints?.length === 0, {
      what: "a-west's slice emptied",
    });
    await waitReady(east, 'default', 'b-west', true);
    expect(await heldMetric(ctl)).toBe(0);
  }, 30_000);

  it('a selector edit that un-selects every Service is never held', async () => {
    const { east, ctl } = await setup(['a', 'b', 'c']);
    await editLinkSpec(east, 'west', (spec) => ({ ...spec, selector: { matchLabels: { nothing: 'here' } } }));
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === 0, { what: 'every mirror deleted' });
    expect(await heldMetric(ctl)).toBe(0);
    expect((await linkEvents(east)).filter((e) => e.reason === 'RemoteListShrunk')).toEqual([]);
  }, 30_000);

  it('a controller restarted against a half-empty remote keeps the mirrors its first list lacks', async () => {
    const { world, east, west, ctl } = await setup(['a', 'b', 'c']);
    const before = await identities(east);
    await ctl.stop();
    for (const n of ['b', 'c']) await west.client.delete(R.services, 'default', n);
    const clock = new ManualClock();
    const again = world.controller('east', { deletionGraceMs: GRACE_MS, deletionClock: clock });
    await waitFor(async () => (await servicesMirrored(east))?.reason === 'RemoteListShrunk', {
      what: 'RemoteListShrunk',
    });
    expect(await identities(east)).toEqual(before);
    expect(await heldMetric(again)).toBe(2);
    clock.advance(GRACE_MS);
    await waitFor(async () => (await mirrorsOf(east, 'west')).length === 1, { what: 'b and c deleted' });
    expect((await identities(east))['a-west']).toEqual(before['a-west']);
  }, 60_000);
});
