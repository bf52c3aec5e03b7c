/**
 * `isthmus controller` as a process, for how its start ends: a start that fails, or that a
 * SIGTERM interrupts, stops everything it began (Lease elector, informers, client), so the process
 * exits instead of running on unready.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { waitFor } from '../../wait-for.js';

const BIN = new URL('../../../bin/isthmus.mjs', import.meta.url).pathname;

let sandbox: Sandbox | undefined;
let child: ChildProcess | undefined;
let busy: Server | undefined;
const dir = mkdtempSync(join(tmpdir(), 'isthmus-controller-'));

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
  }
  child = undefined;
  await new Promise((r) => (busy ? busy.close(r) : r(undefined)));
  busy = undefined;
  await sandbox?.close();
  sandbox = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

/** Starts `isthmus controller` against `kubeconfig`; resolves its exit code (or signal) and stderr. */
function controller(kubeconfig: string, adminPort: number) {
  const args = [BIN, 'controller', '--cluster', 'east', '--kubeconfig', kubeconfig];
  args.push(
    '--gateway-endpoints',
    '10.0.0.5',
    '--admin-host',
    '127.0.0.1',
    '--admin-port',
    String(adminPort),
  );
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child = proc;
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    proc.once('exit', (code) => resolve({ code, stderr })),
  );
  return { proc, exited };
}

/** The exit, or 'still running' at the deadline. */
function exitWithin(exited: Promise<{ code: number | null; stderr: string }>, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'still running'>((r) => {
    timer = setTimeout(() => r('still running'), ms);
  });
  return Promise.race([exited, deadline]).finally(() => clearTimeout(timer));
}

describe('isthmus controller start-up', () => {
  it('exits with the error when its admin port is taken, instead of running on holding the Lease', async () => {
    sandbox = await startSandbox({ name: 'east', loadCrds: true });
    const kubeconfig = join(dir, 'east.yaml');
    writeFileSync(kubeconfig, sandbox.kubeconfig());
    const taken = await listening();
    busy = taken.server;
    const { exited } = controller(kubeconfig, taken.port);
    // Start-up includes tsx compiling the import graph: slow on a busy machine.
    const result = await exitWithin(exited, 45_000);
    expect(result).toMatchObject({ code: 1 });
    expect((result as { stderr: string }).stderr).toContain('EADDRINUSE');
  }, 60_000);

  it('stops at once on SIGTERM while its caches cannot sync (API server down)', async () => {
    sandbox = await startSandbox({ name: 'east', loadCrds: true });
    const kubeconfig = join(dir, 'down.yaml');
    writeFileSync(kubeconfig, sandbox.kubeconfig());
    await sandbox.close();
    sandbox = undefined;
    const free = await listening();
    await new Promise((r) => free.server.close(r));
    const { proc, exited } = controller(kubeconfig, free.port);
    await waitFor(
      'the controller to answer /ready with 503',
      async () => {
        const res = await request(`http://127.0.0.1:${free.port}/ready`);
        const text = await res.body.text();
        return res.statusCode === 503 && text.includes('caches not synced') ? true : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 100 },
    );
    proc.kill('SIGTERM');
    // Well inside the 20 s stop deadline, which exits with "stop deadline passed".
    const result = await exitWithin(exited, 10_000);
    expect(result).not.toBe('still running');
    expect((result as { stderr: string }).stderr).not.toContain('stop deadline passed');
  }, 70_000);
});
