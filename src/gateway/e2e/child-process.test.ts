/**
 * West's gateway as a real process (`node --import tsx src/gateway/main.ts …`), east's in this
 * process: the process starts from flags alone, becomes ready, carries traffic, and exits 0 on
 * SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { R } from '../../kube/resources.js';
import { type GatewayFlags, gatewayArgvFromFlags, gatewayOptionsFromFlags } from '../config.js';
import { type RunningGateway, runGateway } from '../run-gateway.js';
import {
  type Cluster,
  canConnect,
  createMirror,
  endpointSlice,
  exportedService,
  freeEgressPort,
  freePort,
  gatewayFlags,
  httpGet,
  link,
  mirrorService,
  startBackend,
  startLinkedClusters,
  waitFor,
} from './fixtures.js';

const EAST_HOST = '127.0.51.1';
const WEST_HOST = '127.0.52.1';
const NS = 'test';
const SERVICE_PORT = 9898;
const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

describe('west gateway as a child process', () => {
  let east: Cluster;
  let west: Cluster;
  let eastGw: RunningGateway;
  let child: ChildProcess | undefined;
  let childOutput = '';
  let ports: { ingress: number; admin: number };
  let egressPort: number;
  const cleanups: Array<() => unknown> = [];

  beforeAll(async () => {
    ({ east, west } = await startLinkedClusters(EAST_HOST, NS, cleanups));
    const backend = await startBackend('west-process');
    cleanups.push(() => backend.close());
    await west.kube.create(R.services, exportedService(NS, 'podinfo', SERVICE_PORT));
    await west.kube.create(R.endpointSlices, endpointSlice(NS, 'podinfo', '127.0.0.1', backend.port));
    eastGw = await runGateway(gatewayOptionsFromFlags(gatewayFlags(east, 'east', EAST_HOST)), {
      logger: pino({ level: 'silent' }),
      processMetrics: false,
    });
    cleanups.push(() => eastGw.stop());
    ports = { ingress: await freePort(WEST_HOST), admin: await freePort(WEST_HOST) };
    // East's Link to west names the gateway its /probe may dial.
    await east.kube.create(R.links, link('west', WEST_HOST, ports.ingress));
  });

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /** Starts west's gateway as a child process with the given flags on top, and waits for /ready. */
  async function spawnWest(extra: Partial<GatewayFlags> = {}): Promise<ChildProcess> {
    childOutput = '';
    const proc = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        ...gatewayArgvFromFlags({ ...gatewayFlags(west, 'west', WEST_HOST, ports), ...extra }),
      ],
      {
        cwd: REPO,
        env: { ...process.env, ISTHMUS_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = proc;
    proc.stdout?.on('data', (d: Buffer) => {
      childOutput += d.toString();
    });
    proc.stderr?.on('data', (d: Buffer) => {
      childOutput += d.toString();
    });
    await waitFor(
      `the child's /ready (output so far: ${childOutput})`,
      async () => {
        if (proc.exitCode !== null) throw new Error(`child exited ${proc.exitCode}: ${childOutput}`);
        return (await fetch(`http://${WEST_HOST}:${ports.admin}/ready`)).status === 200;
      },
      30_000,
    );
    return proc;
  }

  /** Waits for the child's exit (SIGKILL past a deadline) and expects a clean one. */
  async function expectCleanExit(proc: ChildProcess, exited: Promise<unknown[]>): Promise<void> {
    const deadline = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    clearTimeout(deadline);
    expect({ code, signal, output: code === 0 ? '' : childOutput }).toEqual({
      code: 0,
      signal: null,
      output: '',
    });
  }

  it('becomes ready, carries traffic and exits cleanly on SIGTERM', async () => {
    const proc = await spawnWest();
    const admin = `http://${WEST_HOST}:${ports.admin}`;

    egressPort = await freeEgressPort(EAST_HOST);
    await createMirror(
      east.kube,
      mirrorService({
        ns: NS,
        service: 'podinfo',
        cluster: 'west',
        port: SERVICE_PORT,
        egressPort,
        gateway: `${WEST_HOST}:${ports.ingress}`,
      }),
    );
    await waitFor('east egress listening', () => eastGw.egress.listening().includes(egressPort));
    expect(await httpGet(EAST_HOST, egressPort, '/')).toEqual({
      status: 200,
      body: 'hello from west-process',
    });
    const probe = await fetch(
      `http://${EAST_HOST}:${eastGw.admin.address.port}/probe?gateway=${WEST_HOST}:${ports.ingress}`,
    );
    expect(probe.status).toBe(200);
    // The process's own registry: only its own tunnels, plus process metrics.
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(
      /isthmus_tunnel_connections_total\{direction="ingress",peer_cluster="east",result="success"\} 1\n/,
    );
    expect(metrics).toMatch(/isthmus_tunnel_connect_duration_ms_count\{direction="ingress"\} 1\n/);
    expect(metrics).not.toContain('direction="egress",peer_cluster="west"');
    expect(metrics).toContain('process_cpu_user_seconds_total');

    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    await expectCleanExit(proc, exited);
  });

  it('on SIGTERM with a shutdown grace, drains: unready, the open tunnel keeps working, exit once it ends', async () => {
    const proc = await spawnWest({ drainDelayMs: '100', shutdownGraceMs: '60000' });
    // One keep-alive HTTP connection through east's egress, the tunnel to west's child.
    const conn = net.connect({ host: EAST_HOST, port: egressPort });
    conn.setEncoding('utf8');
    let received = '';
    conn.on('data', (d: string) => {
      received += d;
    });
    const answered = async (n: number): Promise<void> => {
      conn.write('GET / HTTP/1.1\r\nHost: podinfo\r\n\r\n');
      await waitFor(`answer ${n}`, () => received.split('hello from west-process').length - 1 === n, 10_000);
    };
    await answered(1);

    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    await waitFor(
      'the child unready',
      async () => (await fetch(`http://${WEST_HOST}:${ports.admin}/ready`)).status === 503,
    );
    await waitFor(
      'the ingress closed after the drain delay',
      async () => !(await canConnect(WEST_HOST, ports.ingress)),
    );
    await answered(2);
    expect(proc.exitCode).toBeNull();
    conn.end();
    await expectCleanExit(proc, exited);
  });
});
