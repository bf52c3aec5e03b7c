/**
 * The processes of a mirror benchmark run: sandbox API servers and the controller, each its own
 * Node process. Every child is registered in a `Children` set that kills what is still running on
 * failure or exit, and every wait on a child has a deadline.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROLLER_NODE_FLAGS } from '../../src/cli/controller/process-flags.js';
import type { PolicyRule } from '../../src/sandbox/index.js';
import { waitUntil } from './wait.js';

const HERE = import.meta.dirname;
export const REPO = join(HERE, '..', '..');

/** Sends `{ id, op, ... }` over IPC and waits (bounded) for `{ id, result | error }`. */
function ipcCall<T>(child: ChildProcess, op: string, args: object = {}, timeoutMs = 10_000): Promise<T> {
  const id = Math.floor(Math.random() * 2 ** 31);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`${op}: no answer from pid ${child.pid} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (msg: { id?: number; result?: T; error?: string }) => {
      if (msg?.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      if (msg.error) reject(new Error(msg.error));
      else resolve(msg.result as T);
    };
    child.on('message', onMessage);
    child.send({ id, op, ...args });
  });
}

export class Children {
  private readonly live = new Set<ChildProcess>();

  constructor() {
    // Last resort: a crash of the driver must not leave API servers or a controller behind.
    process.once('exit', () => this.killAll('SIGKILL'));
  }

  add(child: ChildProcess): ChildProcess {
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    return child;
  }

  killAll(signal: NodeJS.Signals = 'SIGTERM'): void {
    for (const c of this.live) c.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
  async stop(child: ChildProcess, graceMs = 10_000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((c) => this.stop(c)));
  }
}

export interface SandboxProcess {
  name: string;
  url: string;
  /** Admin kubeconfig of this cluster (context = name). */
  kubeconfig: string;
  child: ChildProcess;
  stats(): Promise<{ requests: number; writes: number; openWatches: number }>;
  addToken(token: string, username: string, rules: PolicyRule[]): Promise<void>;
  /** Starts a CPU profile of the API server; with `file`, stops it and writes it there. */
  profile(file?: string): Promise<void>;
}

export async function startSandboxProcess(children: Children, name: string): Promise<SandboxProcess> {
  const child = children.add(
    fork(join(HERE, 'sandbox-process.ts'), [name], {
      // ISTHMUS_BENCH_SANDBOX_PROF=<dir>: V8 CPU profiles of the API servers, to see what a write costs.
      execArgv: [
        '--import',
        'tsx',
        ...(process.env.ISTHMUS_BENCH_SANDBOX_PROF
          ? ['--cpu-prof', `--cpu-prof-dir=${process.env.ISTHMUS_BENCH_SANDBOX_PROF}`]
          : []),
        // ISTHMUS_BENCH_SANDBOX_FLAGS="--trace-gc …": V8 flags of the API servers, for probes.
        ...(process.env.ISTHMUS_BENCH_SANDBOX_FLAGS?.split(' ').filter(Boolean) ?? []),
      ],
      cwd: REPO,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const hello = await new Promise<{ url: string; kubeconfig: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sandbox ${name} did not start within 30 s`)), 30_000);
    child.once('exit', (code) => reject(new Error(`sandbox ${name} exited with ${code} before ready`)));
    child.once('message', (msg: { ready?: boolean; url: string; kubeconfig: string }) => {
      clearTimeout(timer);
      if (msg.ready) resolve(msg);
      else reject(new Error(`sandbox ${name}: unexpected first message`));
    });
  });
  return {
    name,
    url: hello.url,
    kubeconfig: hello.kubeconfig,
    child,
    stats: () => ipcCall(child, 'stats'),
    addToken: async (token, username, rules) => {
      await ipcCall(child, 'addToken', { token, username, rules });
    },
    profile: async (file) => {
      await ipcCall(child, 'profile', file ? { file } : {});
    },
  };
}

export interface ControllerProcess {
  child: ChildProcess;
  pid: number;
  adminUrl: string;
  /** Requests the controller finished, by `server verb resource[ status]` (request-counter.mjs). */
  requestCounts(): Promise<Record<string, number>>;
}

export interface ControllerArgs {
  kubeconfigFile: string;
  context: string;
  cluster: string;
  gatewayAdmin: string;
  adminPort: number;
  /** undefined: the controller's default client-side rate limit. */
  qps?: number;
  logFile: string;
  cpuProfDir?: string;
}

/** `node dist/cli/main.js controller …` from built JS, with the request counter preloaded. */
export async function startControllerProcess(
  children: Children,
  a: ControllerArgs,
): Promise<ControllerProcess> {
  const args = [
    'controller',
    ...['--cluster', a.cluster, '--kubeconfig', a.kubeconfigFile, '--context', a.context],
    ...['--gateway-admin', a.gatewayAdmin, '--gateway-endpoints', '10.0.0.1'],
    // 10,000 mirrors of one port each fill the default 20000-29999 range exactly.
    ...['--egress-port-range', '20000-39999'],
    '--no-leader-elect',
    ...['--admin-host', '127.0.0.1', '--admin-port', String(a.adminPort)],
    ...(a.qps === undefined ? [] : ['--kube-qps', String(a.qps)]),
  ];
  const log = openSync(a.logFile, 'a');
  const child = children.add(
    fork(join(REPO, 'dist', 'cli', 'main.js'), args, {
      execArgv: [
        ...CONTROLLER_NODE_FLAGS,
        // ISTHMUS_BENCH_CONTROLLER_FLAGS="--trace-gc …": extra V8/Node flags, for A/B runs.
        ...(process.env.ISTHMUS_BENCH_CONTROLLER_FLAGS?.split(/\s+/).filter(Boolean) ?? []),
        '--import',
        join(HERE, 'request-counter.mjs'),
        ...(a.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', a.cpuProfDir] : []),
      ],
      cwd: REPO,
      stdio: ['ignore', log, log, 'ipc'],
    }),
  );
  const adminUrl = `http://127.0.0.1:${a.adminPort}`;
  await waitUntil(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`controller exited with ${child.exitCode}; see ${a.logFile}`);
      const res = await fetch(`${adminUrl}/ready`).catch(() => undefined);
      return res?.status === 200;
    },
    { timeoutMs: 120_000, intervalMs: 100, what: 'controller /ready' },
  );
  return {
    child,
    pid: child.pid ?? 0,
    adminUrl,
    requestCounts: () => ipcCall(child, 'requestCounts'),
  };
}

/**
 * ISTHMUS_BENCH_SANDBOX_WINDOW_PROF=<dir>: a CPU profile of the local API server over exactly the
 * measured window (floor creates, initial sync), written as <dir>/<label>.cpuprofile.
 */
export async function profiledWindow<T>(
  sandbox: SandboxProcess,
  label: string,
  run: () => Promise<T>,
): Promise<T> {
  const dir = process.env.ISTHMUS_BENCH_SANDBOX_WINDOW_PROF;
  if (!dir) return run();
  await sandbox.profile();
  try {
    return await run();
  } finally {
    await sandbox.profile(join(dir, `${label}-${Date.now()}.cpuprofile`));
  }
}
