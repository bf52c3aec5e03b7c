/**
 * Every process the bench starts goes through here, so that one place can kill them all: at the
 * end of a run, on failure, and on Ctrl-C / SIGTERM. Processes are killed by pid, one by one.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import { waitFor as sharedWaitFor } from '../../src/wait-for.js';

export interface Managed {
  name: string;
  child: ChildProcess;
  /** stdout + stderr so far (capped), for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Managed>();
const OUTPUT_CAP = 64 * 1024;

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Managed {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let output = '';
  const collect = (chunk: Buffer): void => {
    if (output.length < OUTPUT_CAP) output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = child.exitCode !== null ? Promise.resolve() : once(child, 'exit').then(() => undefined);
  const managed: Managed = {
    name,
    child,
    output: () => output,
    async stop(graceMs = 3_000) {
      running.delete(managed);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  child.once('error', (err) => {
    output += `\nspawn error: ${err.message}`;
  });
  running.add(managed);
  return managed;
}

export function isAlive(p: Managed): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/** Stops every process still registered (newest first). */
export async function stopAll(): Promise<void> {
  for (const p of [...running].reverse()) await p.stop();
}

/** Kills synchronously: for `process.on('exit')`, where nothing can be awaited. */
function killAllNow(): void {
  for (const p of running) if (isAlive(p)) p.child.kill('SIGKILL');
}

let installed = false;

/** On Ctrl-C / SIGTERM: stop every child, run `cleanup`, exit 130/143. */
export function installSignalCleanup(cleanup: () => Promise<void>): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping every process the bench started`);
      const hardExit = setTimeout(() => process.exit(code), 10_000);
      hardExit.unref();
      void stopAll()
        .then(cleanup)
        .finally(() => process.exit(code));
    });
  }
}

/** Runs a command to completion with a deadline; resolves with its output (rejects on non-zero exit). */
export async function runToEnd(
  name: string,
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const managed: Managed = {
    name,
    child,
    output: () => '',
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  running.add(managed);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const [code, signal] = (await Promise.race([
      once(child, 'exit'),
      once(child, 'error').then(([err]) => {
        throw err;
      }),
    ])) as [number | null, NodeJS.Signals | null];
    if (code !== 0) {
      throw new Error(`${name} exited ${code ?? signal}: ${stderr.slice(-2000) || stdout.slice(-2000)}`);
    }
    return { stdout, stderr };
  } finally {
    clearTimeout(timer);
    running.delete(managed);
  }
}

/** Polls `check` until truthy; throws with `what` at the deadline. */
export function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
): Promise<NonNullable<T>> {
  return sharedWaitFor(what, check, { timeoutMs, intervalMs: 25 });
}
