/**
 * A mirror's slice lists an egress port only once the local gateways list it in their admin `/routes`
 * for that mirror, and `/routes` names each listener's cluster (src/gateway/egress.ts `EgressRoute`):
 * two Links can make one mirror name (`api-us` of west and `api` of us-west are both `api-us-west`),
 * so a port handed at that name from west's mirror to us-west's is not us-west's while the gateway
 * still tunnels it to west's `api-us`, another Service. Compared by `namespace/name` alone, the new
 * mirror's slice listed the port at once, from a `/routes` still showing west's listener.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CLUSTER_NAME_LABEL, EGRESS_PORTS_ANNOTATION } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import {
  type Cluster,
  exportService,
  getService,
  getSlice,
  link,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

let admin: Server | undefined;
afterEach(async () => {
  const s = admin;
  admin = undefined;
  if (s) await new Promise((r) => s.close(r));
});

/**
 * A local gateway's admin: `/routes` lists `routes()` (the listeners it has), anything else (the
 * probes) is passed to the world's probe stub.
 */
async function gatewayAdmin(probeUrl: string, routes: () => unknown[]): Promise<string> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/routes') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ routes: routes(), refused: [] }));
      return;
    }
    void fetch(new URL(req.url ?? '/', probeUrl)).then(
      async (r) => {
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(await r.text());
      },
      () => res.writeHead(502).end(),
    );
  });
  admin = server;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The slice of `api-us-west` once it is us-west's, and the ports it lists for callers. */
async function usWestSlicePorts(east: Cluster): Promise<number[]> {
  const slice = await waitFor(
    async () => {
      const s = await getSlice(east, 'default', 'api-us-west');
      return s?.metadata?.labels?.[CLUSTER_NAME_LABEL] === 'us-west' ? s : undefined;
    },
    { what: "us-west's slice of api-us-west" },
  );
  return slice.ports?.flatMap((p) => (typeof p.port === 'number' ? [p.port] : [])) ?? [];
}

const egressOf = async (east: Cluster) =>
  (await getService(east, 'default', 'api-us-west'))?.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION];

/**
 * West's `api-us` and us-west's `api` exported, east linked to west (not yet to us-west), and a gateway
 * admin whose one listener, 20000, serves `default/api-us-west` for the cluster `tunnelTo` last set.
 */
async function collidingNames() {
  const world = await startWorld(['east', 'west', 'us-west']);
  const [east, west, usWest] = [world.c('east'), world.c('west'), world.c('us-west')];
  let cluster = 'west';
  const adminUrl = await gatewayAdmin(world.probe.url, () => [
    { port: 20000, mirror: 'default/api-us-west', cluster },
  ]);
  await exportService(west, 'api-us', { ready: 1 });
  await exportService(usWest, 'api', { ready: 1 });
  await link(east, west, 'west');
  const tunnelTo = (to: string) => {
    cluster = to;
  };
  return { world, east, west, usWest, adminUrl, tunnelTo };
}

/**
 * West lets the name go; us-west's `api` takes it, with 20000, which the gateway still tunnels to
 * west: not listed for callers until the gateway switches the listener to us-west.
 */
async function handOver({ east, west, tunnelTo }: Awaited<ReturnType<typeof collidingNames>>) {
  await west.client.delete(R.services, 'default', 'api-us');
  expect(await usWestSlicePorts(east)).not.toContain(20000);
  expect(await egressOf(east)).toBe('http=20000');
  tunnelTo('us-west');
  await waitFor(async () => (await usWestSlicePorts(east)).includes(20000), {
    what: '20000 listed for us-west',
  });
}

describe("a port handed at one mirror name from one cluster's mirror to another's", () => {
  it("is not listed for us-west's callers while the gateway's /routes still tunnels it to west", async () => {
    const w = await collidingNames();
    // One port: the one west's mirror frees is the one us-west's gets.
    w.world.controller('east', {
      gatewayAdminUrl: w.adminUrl,
      egressPortRange: { first: 20000, last: 20000 },
    });
    await waitReady(w.east, 'default', 'api-us-west');
    expect(await egressOf(w.east)).toBe('http=20000');
    await link(w.east, w.usWest, 'us-west');
    await handOver(w);
  });

  it('after a restart too, where the allocator hands out the first free port again: the one west just freed', async () => {
    const w = await collidingNames();
    const first = w.world.controller('east', { gatewayAdminUrl: w.adminUrl });
    await waitReady(w.east, 'default', 'api-us-west');
    expect(await egressOf(w.east)).toBe('http=20000');
    await first.stop();
    await link(w.east, w.usWest, 'us-west');
    const second = w.world.controller('east', { gatewayAdminUrl: w.adminUrl });
    await waitFor(() => second.ctl.manager()?.watcher('isthmus-system', 'us-west')?.settled(), {
      what: 'us-west settled',
    });
    await handOver(w);
  });
});
