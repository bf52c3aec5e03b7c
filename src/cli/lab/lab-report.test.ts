/**
 * `lab status` and `lab down` on the state a lab left in state.json: real stand-in processes and
 * real admin servers on loopback, a made-up /proc that says which recorded pid is still the
 * process the lab started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server as GrpcServer } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bindServer, shutdownServer } from '../../identity/grpc-util.js';
import { addHealthService } from '../../identity/health.js';
import { ServingStatus } from '../../identity/protocol.js';
import { waitFor } from '../../wait-for.js';
import { fakeProc } from './fake-proc.js';
import { labStatusLines, printLabReady, stopLocalLab } from './lab-report.js';
import { type LabState, LOCAL_LAB_DIR, labUpConflict, runningLab, stateFile } from './lab-state.js';

const BOOT = 'boot-a';
/** Made-up pids of the lab's children: only the fake /proc knows them. */
const PIDS = { identity: 4_000_001, gateway: 4_000_002, controller: 4_000_003 };

let dir: string;
let admin: Server;
let identity: TcpServer;
let adminUrl: string;
let identityAddress: string;
const children: ChildProcess[] = [];

/** A stand-in process, for the lab or for one of its children. */
function standIn(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  return child;
}
const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

function writeState(state: Partial<LabState>): void {
  const full: LabState = {
    pid: process.pid,
    kubeconfig: join(dir, 'kubeconfig'),
    clusters: [
      {
        name: 'east',
        api: 'http://127.0.0.1:1',
        gatewayAdmin: adminUrl,
        controllerAdmin: adminUrl,
        identity: identityAddress,
      },
    ],
    frontend: 'http://127.0.0.1:1',
    processes: {
      'east/identity': PIDS.identity,
      'east/gateway': PIDS.gateway,
      'east/controller': PIDS.controller,
    },
    ...state,
  };
  writeFileSync(stateFile(dir), JSON.stringify(full));
}

beforeAll(async () => {
  admin = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => admin.listen(0, '127.0.0.1', r));
  adminUrl = `http://127.0.0.1:${(admin.address() as AddressInfo).port}`;
  identity = createTcpServer((s) => s.destroy());
  await new Promise<void>((r) => identity.listen(0, '127.0.0.1', r));
  identityAddress = `127.0.0.1:${(identity.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => admin.close(r));
  await new Promise((r) => identity.close(r));
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (!running(c)) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('lab status', () => {
  it('lists the identity processes: one that died makes the lab unhealthy', async () => {
    dir = mkdtempSync(join(tmpdir(), 'isthmus-lab-report-'));
    const all = { [process.pid]: 1, [PIDS.identity]: 2, [PIDS.gateway]: 3, [PIDS.controller]: 4 };
    const starts = Object.fromEntries(Object.entries(all).map(([pid, t]) => [pid, `${BOOT}/${t}`]));
    writeState({ starts });

    const healthy = await labStatusLines(dir, fakeProc(BOOT, all));
    expect(healthy.lines[1]).toMatch(/east: .*identity ready {2}gateway ready {2}controller ready$/);
    expect(healthy.healthy).toBe(true);

    // east/identity exited (the lab restarts it after a back-off): its pid runs no more.
    const { [PIDS.identity]: _gone, ...rest } = all;
    const died = await labStatusLines(dir, fakeProc(BOOT, rest));
    expect(died.lines[1]).toMatch(/east: .*identity NOT RUNNING {2}gateway ready {2}controller ready$/);
    expect(died.healthy).toBe(false);
  });

  it("asks identity's plaintext gRPC health, as its probes do, where the state records it", async () => {
    dir = mkdtempSync(join(tmpdir(), 'isthmus-lab-report-'));
    const serving: { value: ServingStatus } = { value: ServingStatus.NOT_SERVING };
    const health = new GrpcServer();
    addHealthService(health, () => serving.value);
    const port = await bindServer(health, '127.0.0.1', 0);
    try {
      const all = { [process.pid]: 1, [PIDS.identity]: 2, [PIDS.gateway]: 3, [PIDS.controller]: 4 };
      const starts = Object.fromEntries(Object.entries(all).map(([pid, t]) => [pid, `${BOOT}/${t}`]));
      const east = {
        name: 'east',
        api: 'http://127.0.0.1:1',
        gatewayAdmin: adminUrl,
        controllerAdmin: adminUrl,
        // The Certify port answers TCP whatever identity's state: only health tells.
        identity: identityAddress,
        identityHealth: `127.0.0.1:${port}`,
      };
      writeState({ starts, clusters: [east] });
      const notServing = await labStatusLines(dir, fakeProc(BOOT, all));
      expect(notServing.lines[1]).toMatch(/east: .*identity NOT READY {2}gateway ready/);
      serving.value = ServingStatus.SERVING;
      expect((await labStatusLines(dir, fakeProc(BOOT, all))).lines[1]).toMatch(
        /east: .*identity ready {2}gateway ready/,
      );
    } finally {
      await shutdownServer(health);
    }
  });
});

describe('lab status: where to scrape and probe', () => {
  it("prints each cluster's admin addresses: gateway, identity and controller, with their readiness probes", async () => {
    dir = mkdtempSync(join(tmpdir(), 'isthmus-lab-report-'));
    const all = { [process.pid]: 1, [PIDS.identity]: 2, [PIDS.gateway]: 3, [PIDS.controller]: 4 };
    const starts = Object.fromEntries(Object.entries(all).map(([pid, t]) => [pid, `${BOOT}/${t}`]));
    const east = {
      name: 'east',
      api: 'https://127.0.1.1:6443',
      gatewayAdmin: 'http://127.0.1.2:4191',
      controllerAdmin: 'http://127.0.1.4:4191',
      identity: '127.0.1.3:8080',
      identityHealth: '127.0.1.3:9990',
      identityAdmin: 'http://127.0.1.3:9991',
    };
    // A state from before identity's admin address was recorded: what it knows.
    const older = { ...east, name: 'west', identityAdmin: undefined };
    writeState({ starts, clusters: [east, older] });
    const { lines } = await labStatusLines(dir, fakeProc(BOOT, all));
    const at = (name: string) => lines.findIndex((l) => l.startsWith(`  ${name}: api `));
    expect(lines.slice(at('east') + 1, at('west'))).toEqual([
      '    gateway admin     http://127.0.1.2:4191  /metrics /ready /live  (readiness probe: /ready)',
      '    identity admin    http://127.0.1.3:9991  /metrics /ready /live  (readiness probe: gRPC health 127.0.1.3:9990)',
      '    controller admin  http://127.0.1.4:4191  /metrics /ready /live  (readiness probe: /ready)',
    ]);
    expect(lines.slice(at('west') + 1, at('west') + 4)).toEqual([
      '    gateway admin     http://127.0.1.2:4191  /metrics /ready /live  (readiness probe: /ready)',
      '    identity  (readiness probe: gRPC health 127.0.1.3:9990)',
      '    controller admin  http://127.0.1.4:4191  /metrics /ready /live  (readiness probe: /ready)',
    ]);
    expect(lines.at(-1)).toBe('  frontend: http://127.0.0.1:1');
  });
});

describe('a lab that is still starting', () => {
  it('lab status says so with what has started, and lab down stops it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'isthmus-lab-report-'));
    const lab = standIn();
    const gateway = standIn();
    const proc = fakeProc(BOOT, (pid) =>
      pid === lab.pid ? (running(lab) ? 1 : undefined) : pid === gateway.pid ? 2 : undefined,
    );
    const starts = { [lab.pid!]: `${BOOT}/1`, [gateway.pid!]: `${BOOT}/2` };
    writeState({ pid: lab.pid!, starting: true, clusters: [], frontend: '', processes: {}, starts });
    expect(await labStatusLines(dir, proc)).toEqual({
      lines: [
        `lab starting (pid ${lab.pid}); no process started yet (\`isthmus lab down --dir ${dir}\` stops it)`,
      ],
      healthy: false,
    });
    writeState({
      pid: lab.pid!,
      starting: true,
      clusters: [],
      frontend: '',
      processes: { 'east/gateway': gateway.pid!, 'east/identity': PIDS.identity },
      starts,
    });
    expect((await labStatusLines(dir, proc)).lines[0]).toBe(
      `lab starting (pid ${lab.pid}); started so far: east/gateway (\`isthmus lab down --dir ${dir}\` stops it)`,
    );
    // A second lab up from here would collide with it.
    expect(await labUpConflict(dir, proc)).toMatch(/a lab is already running from/);
    expect(await stopLocalLab(dir, 10_000, proc)).toBe('lab stopped');
    expect(lab.signalCode).toBe('SIGTERM');
  });
});

describe('a recorded pid that another process has now', () => {
  it('is no lab: lab status and lab up say none runs, and lab down signals nothing', async () => {
    dir = mkdtempSync(join(tmpdir(), 'isthmus-lab-report-'));
    const unrelated = standIn();
    // The lab ran as this pid before a reboot (another boot id) or a crash (an earlier start).
    writeState({ pid: unrelated.pid!, starts: { [unrelated.pid!]: `${BOOT}/100` } });
    const proc = fakeProc(BOOT, { [unrelated.pid!]: 200 });

    expect(await runningLab(dir, proc)).toBeUndefined();
    expect(await labUpConflict(dir, proc)).toBeUndefined();
    expect((await labStatusLines(dir, proc)).lines[0]).toMatch(/^no lab is running/);
    expect(await stopLocalLab(dir, 5000, proc)).toBe('no lab is running');
    expect(running(unrelated)).toBe(true);
  });
});

describe('lab down after the lab process died', () => {
  it('stops the processes it left running, and nothing else', async () => {
    dir = mkdtempSync(join(tmpdir(), 'isthmus-lab-report-'));
    const lab = standIn();
    const orphan = standIn();
    const stranger = standIn();
    const labExited = new Promise((r) => lab.once('exit', r));
    lab.kill('SIGKILL');
    await labExited;
    writeState({
      pid: lab.pid!,
      processes: { 'east/gateway': orphan.pid!, 'east/identity': stranger.pid! },
      starts: {
        [lab.pid!]: `${BOOT}/1`,
        [orphan.pid!]: `${BOOT}/2`,
        // Recorded when the lab started it; the pid is another process's now.
        [stranger.pid!]: `${BOOT}/3`,
      },
    });
    // The orphan's /proc entry goes once it has exited.
    const proc = fakeProc(BOOT, (pid) =>
      pid === orphan.pid ? (running(orphan) ? 2 : undefined) : pid === stranger.pid ? 30 : undefined,
    );

    // A new lab up from here would start beside them (its gateway could not bind): it refuses.
    expect(await labUpConflict(dir, proc)).toMatch(
      /processes of a lab that exited still run from .* \(east\/gateway\); stop them with `isthmus lab down --dir .*` first/,
    );
    expect(await stopLocalLab(dir, 10_000, proc)).toBe(
      'the lab process had exited; stopped what it left running: east/gateway',
    );
    await waitFor('the orphan to exit', () => !running(orphan) || undefined, {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    expect(orphan.signalCode).toBe('SIGTERM');
    expect(running(stranger)).toBe(true);
  });
});

describe('a lab run from --dir (walkthrough finding)', () => {
  const state = (kubeconfig: string): LabState => ({
    pid: process.pid,
    kubeconfig,
    clusters: [
      { name: 'east', api: 'http://127.0.7.1:6443', gatewayAdmin: '', controllerAdmin: '' },
      { name: 'west', api: 'http://127.0.8.1:6443', gatewayAdmin: '', controllerAdmin: '' },
    ],
    frontend: 'http://127.0.7.20:8080',
    processes: {},
  });

  it('is ready with the status and down commands that reach it from another terminal', () => {
    const lines: string[] = [];
    printLabReady(state('/tmp/walk-lab/kubeconfig'), (l) => lines.push(l), '/tmp/walk-lab');
    expect(lines.at(-1)).toBe(
      'Ctrl-C stops everything; from another terminal: node bin/isthmus.mjs lab status --dir /tmp/walk-lab, node bin/isthmus.mjs lab down --dir /tmp/walk-lab',
    );
    const atDefault: string[] = [];
    printLabReady(state('.lab/local/kubeconfig'), (l) => atDefault.push(l), LOCAL_LAB_DIR);
    expect(atDefault.at(-1)).toBe(
      'Ctrl-C stops everything; from another terminal: node bin/isthmus.mjs lab status, node bin/isthmus.mjs lab down',
    );
  });

  it('lab status with no lab at the default directory says where else one may run', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'isthmus-lab-none-'));
    try {
      const { lines } = await labStatusLines(empty);
      expect(lines[0]).toBe(
        `no lab is running (state in ${empty}; a lab started with --dir is found with the same --dir)`,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
