/**
 * A draining gateway keeps its egress listeners open while a mirror's EndpointSlice still lists its
 * pod: kube-proxy sends callers there until the controller has rewritten every mirror's slice, one
 * rate-limited write each, which with hundreds of mirrors ends after the drain delay (a review's
 * finding: 400 mirrors, the last slice ~6 s after SIGTERM, the listeners closed at 5 s, callers
 * refused). Real gateways on loopback, the sandbox API server holding the controller's slices.
 * "The drain delay is over" is read from the gateway itself: its ingress, which closes at the end
 * of the delay as before, refuses connections.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGED_BY_FAILOVER, MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import { TcpRelay } from '../../kube/tcp-relay.js';
import type { V1EndpointSlice } from '../../kube/types.js';
import { gatewayOptionsFromFlags } from '../config.js';
import { type RunningGateway, runGateway } from '../run-gateway.js';
import { echo, startTcpBackend } from '../test-support/backends.js';
import { controllerSlice } from '../test-support/mirror-slices.js';
import { within } from '../test-support/wait.js';
import {
  type Cluster,
  canConnect,
  echoRoundTrip,
  endpointSlice,
  exportedService,
  freeEgressPort,
  gatewayFlags,
  linkGateway,
  mirrorService,
  startLinkedClusters,
  waitFor,
} from './fixtures.js';

const EAST_HOST = '127.0.191.1';
const WEST_HOST = '127.0.192.1';
const NS = 'test';
const PORT = 7000;

/** What a draining gateway logged, in order. */
interface LogLine {
  level: number;
  msg: string;
  slices?: number;
  listing?: string[];
  informer?: string;
  sliceWatch?: string;
}

describe("a draining gateway's egress follows the mirrors' EndpointSlices", () => {
  const cleanups: Array<() => unknown> = [];
  let east: Cluster;
  let west: Cluster;
  let westGw: RunningGateway;
  let backendPort: number;
  let nextHost = 2;

  beforeAll(async () => {
    ({ east, west } = await startLinkedClusters(EAST_HOST, NS, cleanups));
    const backend = await startTcpBackend(echo);
    cleanups.push(() => backend.close());
    backendPort = backend.port;
    westGw = await runGateway(gatewayOptionsFromFlags(gatewayFlags(west, 'west', WEST_HOST)), {
      logger: pino({ level: 'silent' }),
      processMetrics: false,
    });
    cleanups.push(() => westGw.stop());
    await waitFor('west gateway ready', () => westGw.readiness().ready, 15_000);
  }, 60_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /**
   * An east gateway pod at an address of its own (the lab's form: --egress-host is its pod IP),
   * draining with a short delay, routing a mirror of an echo west exports, whose controller slice
   * lists that address as ready, as the mirror controller writes it for every ready gateway pod.
   * The slice lists it from its creation, so the gateway has seen it once it listens on the port.
   * `api`: a relay its API client goes through, which the test can cut. `before`: called with the
   * address before the gateway starts (what it lists then is in its caches once it is ready).
   */
  async function drainingGateway(
    graceMs: number,
    opts: { api?: TcpRelay; before?: (host: string) => Promise<unknown> } = {},
  ) {
    const host = `127.0.191.${nextHost++}`;
    await opts.before?.(host);
    const log: LogLine[] = [];
    let kubeconfigFile = east.kubeconfigFile;
    if (opts.api !== undefined) {
      kubeconfigFile = join(east.certs.dir, `via-relay-${host}.kubeconfig`);
      await writeFile(
        kubeconfigFile,
        east.sandbox.kubeconfig().replace(east.sandbox.url, opts.api.via(east.sandbox.url)),
      );
    }
    const gw = await runGateway(
      gatewayOptionsFromFlags({
        ...gatewayFlags({ ...east, kubeconfigFile }, 'east', host),
        drainDelayMs: 200,
        shutdownGraceMs: graceMs,
      }),
      {
        logger: pino({ level: 'info' }, { write: (line: string) => void log.push(JSON.parse(line)) }),
        processMetrics: false,
      },
    );
    cleanups.push(() => gw.stop());
    await waitFor(`gateway at ${host} ready`, () => gw.readiness().ready, 15_000);
    // West exports an echo of its own for each: its mirror is then this test's alone.
    const service = `echo-${nextHost}`;
    await west.kube.create(R.services, exportedService(NS, service, PORT));
    await west.kube.create(R.endpointSlices, endpointSlice(NS, service, '127.0.0.1', backendPort));
    const port = await freeEgressPort(host);
    const remote = westGw.ingress.address;
    await linkGateway(east.kube, 'west', remote);
    const mirror = await east.kube.create(
      R.services,
      mirrorService({
        ns: NS,
        service,
        cluster: 'west',
        port: PORT,
        egressPort: port,
        gateway: `${remote.host}:${remote.port}`,
      }),
    );
    await east.kube.create(R.endpointSlices, {
      ...controllerSlice(mirror),
      endpoints: [{ addresses: [host], conditions: { ready: true } }],
    });
    await waitFor(`egress port ${port} listening`, () => gw.egress.listening().includes(port), 15_000);
    await waitFor(
      'a tunnel through the egress port',
      () => echoRoundTrip(host, port, 'hello', 5_000),
      15_000,
    );
    const name = `${service}-west`;
    /** Rewrites the slice as the controller does once it has seen the pod unready. */
    const dropPod = async (endpoints: V1EndpointSlice['endpoints']): Promise<void> => {
      const current = await east.kube.get<V1EndpointSlice>(R.endpointSlices, NS, name);
      await east.kube.replace(R.endpointSlices, { ...current!, endpoints });
    };
    const ingressClosed = async (): Promise<boolean> => !(await canConnect(host, gw.ingress.address.port));
    return { gw, host, port, log, slice: `${NS}/${name}`, dropPod, ingressClosed };
  }

  /** A draining gateway whose API connection is then cut, once its mirror slice watch says it fails. */
  async function cutOffGateway(graceMs: number) {
    const api = await TcpRelay.start(new URL(east.sandbox.url));
    cleanups.push(() => api.close());
    const d = await drainingGateway(graceMs, { api });
    api.cut();
    await waitFor(
      'the mirror slice watch failing',
      () => d.log.some((l) => l.msg === 'watch failing; serving from cache' && l.informer === 'mirrorSlices'),
      20_000,
    );
    return { api, d };
  }

  it('tunnels new egress connections past the drain delay until the slice drops the pod, then closes', async () => {
    const d = await drainingGateway(60_000);
    let done = false;
    const shutdown = d.gw.shutdown().then(() => {
      done = true;
    });
    expect((await fetch(`http://${d.host}:${d.gw.admin.address.port}/ready`)).status).toBe(503);
    await waitFor('the drain delay over: the ingress refusing', d.ingressClosed, 10_000);

    // The slice still lists this pod: kube-proxy still sends callers here, so they are served.
    expect(await echoRoundTrip(d.host, d.port, 'after the delay', 10_000)).toBe(true);
    expect(d.gw.egress.listening()).toContain(d.port);
    expect(d.log.map((l) => l.msg)).toContainEqual(expect.stringContaining('stay open until they drop it'));
    expect((await fetch(`http://${d.host}:${d.gw.admin.address.port}/ready`)).status).toBe(503);
    expect(done).toBe(false);

    // The controller's rewrite: the pod not ready. The listener closes after the settle.
    await d.dropPod([{ addresses: [d.host], conditions: { ready: false } }]);
    await waitFor('the egress refusing', async () => !(await canConnect(d.host, d.port)), 10_000);
    await within(shutdown, 15_000, 'the shutdown to finish');
    const messages = d.log.map((l) => l.msg);
    const dropped = messages.findIndex((m) => m.includes('no longer list this pod'));
    expect(dropped).toBeGreaterThan(messages.findIndex((m) => m.includes('stay open until they drop it')));
    expect(messages.slice(dropped)).toContain('drained: every tunnel finished');
    expect(messages).not.toContainEqual(expect.stringContaining('grace period over'));
  });

  it("waits for a split apex's slice too, which lists the pod after the mirror's has dropped it", async () => {
    // The failover controller's slice of an apex whose backup is the mirror: the egress too.
    const apex = (host: string): V1EndpointSlice => ({
      metadata: {
        namespace: NS,
        name: `web-isthmus-${host.replaceAll('.', '-')}`,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY_FAILOVER, [SERVICE_NAME_LABEL]: 'web' },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [host], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 20001, protocol: 'TCP' }],
    });
    const d = await drainingGateway(60_000, {
      before: (host) => east.kube.create(R.endpointSlices, apex(host)),
    });
    const apexName = apex(d.host).metadata!.name!;
    const shutdown = d.gw.shutdown();
    await waitFor('the drain delay over: the ingress refusing', d.ingressClosed, 10_000);
    const held = d.log.find((l) => l.msg.includes('stay open until they drop it'));
    expect(held?.listing?.sort()).toEqual([d.slice, `${NS}/${apexName}`].sort());

    // The mirror's slice no longer lists the pod at all; the apex's still does.
    await d.dropPod([]);
    expect(await echoRoundTrip(d.host, d.port, 'still here', 10_000)).toBe(true);
    await east.kube.delete(R.endpointSlices, NS, apexName);
    await within(shutdown, 15_000, 'the shutdown to finish');
    expect(await canConnect(d.host, d.port)).toBe(false);
  });

  // A grace of 3 s: room for the round trip after the delay on a loaded machine, not a measurement.
  it('closes at the end of the grace when the slice is never rewritten, and says which slice', async () => {
    const d = await drainingGateway(3_000);
    const shutdown = d.gw.shutdown();
    await waitFor('the drain delay over: the ingress refusing', d.ingressClosed, 10_000);
    expect(await echoRoundTrip(d.host, d.port, 'before the grace', 10_000)).toBe(true);
    await within(shutdown, 15_000, 'the shutdown at the end of the grace');
    expect(await canConnect(d.host, d.port)).toBe(false);
    const warning = d.log.find((l) => l.msg.startsWith('grace period over while'));
    expect(warning).toMatchObject({ level: 40, slices: 1, listing: [d.slice] });
  });

  it('waits out the grace while its slice watch is failing, and says so', async () => {
    const { d } = await cutOffGateway(3_000);
    // Dropped in the API, unseen by the gateway: its cache still lists the pod.
    await d.dropPod([]);
    const shutdown = d.gw.shutdown();
    await waitFor('the drain delay over: the ingress refusing', d.ingressClosed, 10_000);
    expect(await echoRoundTrip(d.host, d.port, 'unseen drop', 10_000)).toBe(true);
    await within(shutdown, 15_000, 'the shutdown at the end of the grace');
    const warning = d.log.find((l) => l.msg.startsWith('grace period over while'));
    expect(warning).toMatchObject({ level: 40, slices: 1, listing: [d.slice] });
    expect(warning?.sliceWatch).toMatch(/^failing: /);
    expect(warning?.msg).toContain('failing slice watch');
  });

  // Last: the restore makes every watch of east relist.
  it('learns from a relist (410 Gone after a restore) that the slice dropped the pod, and closes', async () => {
    const { api, d } = await cutOffGateway(60_000);
    await d.dropPod([{ addresses: [d.host], conditions: { ready: false } }]);
    // The history the watch would resume from is gone: it comes back with a relist, whose
    // difference with the cache (an update of the slice) is all the drain hears of the drop.
    east.sandbox.faults.restore(east.sandbox.faults.snapshot(), { bumpRevision: 1_000 });
    const shutdown = d.gw.shutdown();
    await waitFor('the drain delay over: the ingress refusing', d.ingressClosed, 10_000);
    expect(await echoRoundTrip(d.host, d.port, 'unseen drop', 10_000)).toBe(true);
    api.restore();
    await within(shutdown, 30_000, 'the shutdown once the relist shows the drop');
    expect(await canConnect(d.host, d.port)).toBe(false);
    const messages = d.log.map((l) => l.msg);
    expect(messages).toContain(
      'EndpointSlices written by Isthmus no longer list this pod: closing the egress listeners',
    );
    expect(messages).not.toContainEqual(expect.stringContaining('grace period over'));
  });
});
