/**
 * West's gateway loses its own cluster's API server after it has synced, as in an API server
 * restart or a partition between the gateway and the control plane: its watches fail ("watch
 * failing; serving from cache"), and its ingress keeps admitting east and dialling from the index
 * it last built. What changed in the cluster while the gateway could not see it (a new export) is
 * served once it can again. West's gateway reaches its API server through a TCP relay the test
 * can cut, so the cluster can change while the gateway is cut off from it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { R } from '../../kube/resources.js';
import { TcpRelay } from '../../kube/tcp-relay.js';
import { gatewayOptionsFromFlags } from '../config.js';
import { type RunningGateway, runGateway } from '../run-gateway.js';
import { echo, startTcpBackend } from '../test-support/backends.js';
import {
  type Cluster,
  echoRoundTrip,
  endpointSlice,
  exportedService,
  gatewayFlags,
  routeMirror,
  startLinkedClusters,
  waitFor,
} from './fixtures.js';

/** Loopback "cluster addresses" of this file; other test files use other 127.x addresses. */
const EAST_HOST = '127.0.58.1';
const WEST_HOST = '127.0.59.1';
const NS = 'test';
const PORT = 7000;

/** One round trip through east's egress port on a new connection; true when the text came back. */
const roundTrip = (port: number, text: string, ms = 10_000): Promise<boolean> =>
  echoRoundTrip(EAST_HOST, port, text, ms);

const cleanups: Array<() => unknown> = [];
let east: Cluster;
let west: Cluster;
let eastGw: RunningGateway;
let westGw: RunningGateway;
let westApi: TcpRelay;
let backendPort: number;
const westLog: Array<{ msg?: string; informer?: string }> = [];

beforeAll(async () => {
  ({ east, west } = await startLinkedClusters(EAST_HOST, NS, cleanups));
  const backend = await startTcpBackend(echo);
  cleanups.push(() => backend.close());
  backendPort = backend.port;
  westApi = await TcpRelay.start(new URL(west.sandbox.url));
  cleanups.push(() => westApi.close());
  const kubeconfigFile = join(west.certs.dir, 'through-the-cut.kubeconfig');
  await writeFile(
    kubeconfigFile,
    west.sandbox.kubeconfig().replace(west.sandbox.url, westApi.via(west.sandbox.url)),
  );
  const westLogger = pino(
    { level: 'warn' },
    { write: (line: string) => westLog.push(JSON.parse(line) as { msg?: string; informer?: string }) },
  );
  westGw = await runGateway(
    gatewayOptionsFromFlags(gatewayFlags({ ...west, kubeconfigFile }, 'west', WEST_HOST)),
    {
      logger: westLogger,
      processMetrics: false,
    },
  );
  cleanups.push(() => westGw.stop());
  eastGw = await runGateway(gatewayOptionsFromFlags(gatewayFlags(east, 'east', EAST_HOST)), {
    logger: pino({ level: 'silent' }),
    processMetrics: false,
  });
  cleanups.push(() => eastGw.stop());
  await waitFor('gateways ready', () => westGw.readiness().ready && eastGw.readiness().ready, 15_000);
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** The informers west's gateway has reported failing since log line `since`. */
const failingSince = (since: number): Set<string | undefined> =>
  new Set(
    westLog
      .slice(since)
      .filter((l) => l.msg === 'watch failing; serving from cache')
      .map((l) => l.informer),
  );
/**
 * Waits until west's gateway has reported the watches of these informers failing (it says so once
 * per outage, so only of informers known to be connected again since the last one).
 */
const watchesFailing = (since: number, informers: string[]): Promise<unknown> =>
  waitFor(
    `west to report the watches of ${informers.join(', ')} failing`,
    () => informers.every((informer) => failingSince(since).has(informer)),
    20_000,
  );
/** West exports `service`, with one ready endpoint: the echo backend. */
async function exportEcho(service: string): Promise<void> {
  await west.kube.create(R.services, exportedService(NS, service, PORT));
  await west.kube.create(R.endpointSlices, endpointSlice(NS, service, '127.0.0.1', backendPort));
}
const resolves = (service: string): boolean =>
  westGw.index.resolve({ kind: 'service', namespace: NS, service, port: PORT }).ok;
/** East's mirror of west's `service`, routed to west's gateway; its egress port. */
const mirrorOf = (service: string): Promise<number> =>
  routeMirror(east, eastGw, westGw, { ns: NS, service, cluster: 'west', port: PORT });

it('tunnels on its last index while its API server is gone, and serves an export made meanwhile once back', async () => {
  // Made after west's gateway synced: it learns of them through its watches, which are open then.
  await exportEcho('echo');
  const echoPort = await mirrorOf('echo');
  await waitFor('a tunnel to echo', () => roundTrip(echoPort, 'synced'), 15_000);

  // The API server itself goes away: every watch dropped, every connection refused.
  let since = westLog.length;
  await west.sandbox.faults.goOffline();
  try {
    await watchesFailing(since, ['exports', 'slices', 'links']);
    // New client connections, so new tunnels: each is admitted (the Link to east, cached) and
    // dialled (the export and its slice, cached) while nothing can be read from the API.
    for (let i = 0; i < 3; i++) expect(await roundTrip(echoPort, `offline ${i}`)).toBe(true);
  } finally {
    await west.sandbox.faults.goOnline();
  }
  // An export made now reaches the index only through the exports and slices watches, open again.
  // (The others may still be waiting out their backoff.)
  await exportEcho('marker');
  await waitFor('west watching again', () => resolves('marker'), 30_000);

  // Now only west's gateway is cut off, mid-watch, while the cluster changes: a new export, and
  // its mirror on east's side.
  since = westLog.length;
  await westApi.cut();
  let latePort: number;
  try {
    await watchesFailing(since, ['exports', 'slices']);
    await exportEcho('late');
    latePort = await mirrorOf('late');
    // West cannot know of it yet; what it knew still tunnels.
    expect(resolves('late')).toBe(false);
    expect(await roundTrip(latePort, 'too early')).toBe(false);
    expect(await roundTrip(echoPort, 'cut off')).toBe(true);
  } finally {
    await westApi.restore();
  }
  // Back: the watches resume, the export made meanwhile is served, and the old one still is.
  await waitFor('the export made during the outage served', () => roundTrip(latePort, 'once back'), 30_000);
  expect(resolves('late')).toBe(true);
  expect(await roundTrip(echoPort, 'after')).toBe(true);
}, 120_000);
