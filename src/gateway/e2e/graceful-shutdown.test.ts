/**
 * A gateway's graceful stop (RunningGateway.shutdown, what SIGTERM starts with --drain-delay-ms and
 * --shutdown-grace-ms), on both faces, with real TLS between two in-process gateways: a tunnel in
 * flight keeps working and ends cleanly, /ready says why it is 503, the mTLS probe still answers,
 * new connections are refused once the drain delay is over, and what outlives the grace is cut.
 */
import net from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { R } from '../../kube/resources.js';
import { gatewayOptionsFromFlags } from '../config.js';
import { type RunningGateway, runGateway } from '../run-gateway.js';
import { echo, startTcpBackend, type TcpBackend } from '../test-support/backends.js';
import { within } from '../test-support/wait.js';
import {
  type Cluster,
  canConnect,
  createMirror,
  endpointSlice,
  exportedService,
  freeEgressPort,
  gatewayFlags,
  linkGateway,
  mirrorService,
  startLinkedClusters,
  waitFor,
} from './fixtures.js';

const EAST_HOST = '127.0.54.1';
const EAST_DRAINING_HOST = '127.0.54.2';
const WEST_HOST = '127.0.55.1';
const NS = 'test';
const PORT = 7000;

/** A client connection through an egress port, reading what comes back. */
class Client {
  readonly socket: net.Socket;
  private received = '';
  ended = false;
  closed = false;
  hadError = false;

  constructor(host: string, port: number) {
    this.socket = net.connect({ host, port, allowHalfOpen: true });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => {
      this.received += d;
    });
    this.socket.on('end', () => {
      this.ended = true;
    });
    this.socket.on('error', () => {
      this.hadError = true;
    });
    this.socket.on('close', () => {
      this.closed = true;
    });
  }

  /** Sends `text` and waits until it has come back from the echo backend. */
  async roundTrip(text: string): Promise<void> {
    const before = this.received.length;
    this.socket.write(text);
    await waitFor(`"${text}" echoed`, () => this.received.slice(before) === text, 10_000);
  }
}

describe('graceful shutdown of a gateway', () => {
  let east: Cluster;
  let west: Cluster;
  let backend: TcpBackend;
  let eastGw: RunningGateway;
  const cleanups: Array<() => unknown> = [];
  const quiet = { logger: pino({ level: 'silent' }), processMetrics: false };

  beforeAll(async () => {
    ({ east, west } = await startLinkedClusters(EAST_HOST, NS, cleanups));
    backend = await startTcpBackend(echo);
    cleanups.push(() => backend.close());
    eastGw = await startGateway(east, 'east', EAST_HOST);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function startGateway(
    cluster: Cluster,
    name: 'east' | 'west',
    host: string,
    shutdown: { drainDelayMs?: number; shutdownGraceMs?: number } = {},
  ): Promise<RunningGateway> {
    const gw = await runGateway(
      gatewayOptionsFromFlags({ ...gatewayFlags(cluster, name, host), ...shutdown }),
      quiet,
    );
    cleanups.push(() => gw.stop());
    await waitFor(`${name} gateway ready`, () => gw.readiness().ready, 10_000);
    return gw;
  }

  /** West exports `service` (the echo backend); east gets its mirror through `westGw`; returns the egress port. */
  async function route(service: string, westGw: RunningGateway, eastSide: RunningGateway): Promise<number> {
    await west.kube.create(R.services, exportedService(NS, service, PORT));
    await west.kube.create(R.endpointSlices, endpointSlice(NS, service, '127.0.0.1', backend.port));
    const egressPort = await freeEgressPort(EAST_HOST);
    const gateway = `${westGw.ingress.address.host}:${westGw.ingress.address.port}`;
    // East's Link to west names this west gateway (a Link has one gatewayPort, and status
    // .gatewayAddresses carries addresses, not ports): what east's egress routes the mirror to.
    // A mirror of an earlier test keeps the route it was admitted with (see `admitRoutes`).
    await linkGateway(east.kube, 'west', westGw.ingress.address);
    await createMirror(
      east.kube,
      mirrorService({ ns: NS, service, cluster: 'west', port: PORT, egressPort, gateway }),
    );
    await waitFor(`egress port ${egressPort} open`, () => eastSide.egress.listening().includes(egressPort));
    await waitFor(`${service} exported by west`, async () => {
      const probe = new Client(EAST_HOST, egressPort);
      try {
        await probe.roundTrip('ping');
        return true;
      } catch {
        return false;
      } finally {
        probe.socket.destroy();
      }
    });
    return egressPort;
  }

  it('lets a tunnel in flight finish while it stops taking new ones (ingress side)', async () => {
    const westGw = await startGateway(west, 'west', WEST_HOST, {
      drainDelayMs: 2_000,
      shutdownGraceMs: 60_000,
    });
    const port = await route('drain-in', westGw, eastGw);
    const client = new Client(EAST_HOST, port);
    await client.roundTrip('before');

    let shutdownDone = false;
    const shutdown = westGw.shutdown().then(() => {
      shutdownDone = true;
    });
    const admin = `http://${WEST_HOST}:${westGw.admin.address.port}`;
    const ready = await fetch(`${admin}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain('shutting down: draining tunnels');
    // The path itself still works: a remote probe through mTLS must not call west dead for this.
    // (The drain delay is long enough for this to happen inside it on a loaded machine.)
    expect((await eastGw.pool.probe(westGw.ingress.address, '/ready', 5_000)).alive).toBe(true);

    // After the drain delay: no new TLS connections, so east's next tunnel fails fast …
    await waitFor(
      'west ingress refusing connections',
      async () => !(await canConnect(WEST_HOST, westGw.ingress.address.port)),
    );
    const late = new Client(EAST_HOST, port);
    await waitFor('the late connection closed', () => late.closed, 10_000);
    expect(late.hadError || late.ended).toBe(true);
    // … while the tunnel in flight keeps carrying bytes both ways, and ends with FINs.
    await client.roundTrip('during');
    expect(shutdownDone).toBe(false);
    client.socket.end();
    await waitFor('the echo answered the FIN', () => client.ended, 10_000);
    // The grace (60 s, long enough that no cut can pass for a drain) is not what ends it: the last
    // tunnel's end does, well within this deadline.
    await within(shutdown, 15_000, 'the shutdown to finish once its last tunnel ended');
    expect({ hadError: client.hadError, ended: client.ended }).toEqual({ hadError: false, ended: true });
    expect(westGw.ingress.connections()).toBe(0);
  });

  it('cuts what is still open when the grace period is over', async () => {
    const westGw = await startGateway(west, 'west', WEST_HOST, { drainDelayMs: 0, shutdownGraceMs: 200 });
    const port = await route('grace-over', westGw, eastGw);
    const client = new Client(EAST_HOST, port);
    await client.roundTrip('held open');
    await within(westGw.shutdown(), 15_000, 'the shutdown at the end of its 200 ms grace');
    await waitFor('the client connection closed by the cut', () => client.closed, 10_000);
    expect(westGw.ingress.connections()).toBe(0);
  });

  it('drains its egress listeners too (egress side)', async () => {
    const westGw = await startGateway(west, 'west', WEST_HOST);
    const drainingEast = await startGateway(east, 'east', EAST_DRAINING_HOST, {
      drainDelayMs: 0,
      shutdownGraceMs: 60_000,
    });
    await route('drain-out', westGw, eastGw);
    const port = (await east.kube.get(R.services, NS, 'drain-out-west'))!.metadata!.annotations![
      'isthmus.dev/egress-ports'
    ]!.split('=')[1]!;
    await waitFor('the draining gateway listens too', () =>
      drainingEast.egress.listening().includes(Number(port)),
    );
    const client = new Client(EAST_DRAINING_HOST, Number(port));
    await client.roundTrip('before');

    let shutdownDone = false;
    const shutdown = drainingEast.shutdown().then(() => {
      shutdownDone = true;
    });
    await waitFor(
      'egress refusing new connections',
      async () => !(await canConnect(EAST_DRAINING_HOST, Number(port))),
    );
    await client.roundTrip('during');
    expect(shutdownDone).toBe(false);
    // The probes' connections accepted before the close finish too; the client's stays open.
    await waitFor('only the client connection left', () => drainingEast.egress.connections() === 1);
    client.socket.end();
    await within(shutdown, 15_000, 'the shutdown to finish once its last connection ended');
    expect({ hadError: client.hadError, ended: client.ended }).toEqual({ hadError: false, ended: true });
    expect(drainingEast.egress.connections()).toBe(0);
  });
});
