/**
 * A mirror port the egress cannot bind (another process holds it): listed under refused with the
 * reason (admin `/routes` shows `refused()`), retried, and gone from refused once it listens.
 */
import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { IsthmusError } from '../errors.js';
import type { Link, V1EndpointSlice, V1Service } from '../kube/types.js';
import { link, mirrorService } from './e2e/fixtures.js';
import { MemorySource } from './e2e/memory-source.js';
import { EgressListeners } from './egress.js';
import { controllerSlice } from './test-support/mirror-slices.js';
import { waitFor } from './test-support/wait.js';
import { watchMirrors } from './watch-mirrors.js';

const HOST = '127.0.0.1';
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function squat(): Promise<{ port: number; free: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, HOST, r));
  const free = () => new Promise<void>((r) => server.close(() => r()));
  cleanups.push(() => server.listening && free());
  return { port: (server.address() as net.AddressInfo).port, free };
}

it('a port another process holds is refused with the reason until it is free, then listened on', async () => {
  const squatter = await squat();
  const other = await squat();
  await other.free(); // a free port for the second mirror
  const svc = (service: string, egressPort: number): V1Service => {
    const s = mirrorService({
      ns: 'shop',
      service,
      cluster: 'west',
      port: 5432,
      egressPort,
      gateway: '192.0.2.7:4143',
    });
    s.metadata!.uid = `uid-${service}`;
    return s;
  };
  const mirrors = new MemorySource<V1Service>();
  const slices = new MemorySource<V1EndpointSlice>();
  const links = new MemorySource<Link>();
  links.put(link('west', '192.0.2.7', 4143));
  for (const s of [svc('db', squatter.port), svc('cache', other.port)]) {
    mirrors.put(s);
    slices.put(controllerSlice(s));
  }
  const pool = {
    tunnel: (_r: unknown, _a: string, cb: (e: IsthmusError) => void) =>
      cb(new IsthmusError('GATEWAY_UNREACHABLE', 'not dialled in this test')),
  };
  const egress = new EgressListeners({ host: HOST, pool: pool as never });
  cleanups.push(() => egress.close());
  const errors: unknown[] = [];
  const watcher = watchMirrors(mirrors, egress, {
    links,
    slices,
    egressRange: { first: 1, last: 65535 },
    debounceMs: 1,
    retryMs: 20,
    onError: (e) => errors.push(e),
  });
  cleanups.push(() => watcher.close());
  await watcher.idle();

  expect(egress.listening()).toEqual([other.port]);
  expect(egress.listenFailures()).toEqual([
    { port: squatter.port, mirror: 'shop/db-west', reason: expect.stringContaining('EADDRINUSE') },
  ]);
  expect(watcher.refused()).toEqual([
    {
      mirror: 'shop/db-west',
      port: squatter.port,
      reason: expect.stringMatching(`^the egress cannot listen on port ${squatter.port}: .*EADDRINUSE`),
      unbound: true,
    },
  ]);
  expect(errors.length).toBeGreaterThan(0);

  await squatter.free();
  await waitFor(() => egress.listening().includes(squatter.port), 'the retry once the port is free', 5_000);
  await watcher.idle();
  expect(egress.listenFailures()).toEqual([]);
  expect(watcher.refused()).toEqual([]);
});

it('a failing port that is no longer wanted is no longer reported', async () => {
  const squatter = await squat();
  const egress = new EgressListeners({ host: HOST, pool: { tunnel: () => {} } as never });
  cleanups.push(() => egress.close());
  const route = {
    port: squatter.port,
    remote: { host: '192.0.2.7', port: 4143 },
    authority: 'db.shop.svc.cluster.local:5432',
    mirror: 'shop/db-west',
    cluster: 'west',
  };
  await expect(egress.apply([route])).rejects.toMatchObject({ code: 'EGRESS_LISTEN_FAILED' });
  expect(egress.listenFailures().map((f) => f.port)).toEqual([squatter.port]);
  await egress.apply([]);
  expect(egress.listenFailures()).toEqual([]);
});
