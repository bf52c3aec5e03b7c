/**
 * The lab's child processes (identity, gateway, controller per cluster): real processes running
 * the real `isthmus` verbs, logging to files, stopped with SIGTERM and — past a deadline — SIGKILL,
 * so that Ctrl-C never leaves anything behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fstatSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'isthmus.mjs');

export interface LabProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Size of the log file when this process started: what `kubectl logs` shows begins there. */
  logOffset: number;
  exited: Promise<number | null>;
}

export class ProcessGroup {
  private readonly procs: LabProcess[] = [];
  private stopping = false;

  constructor(private readonly onUnexpectedExit: (p: LabProcess, code: number | null) => void) {}

  /** Starts `isthmus <args>` with stdout and stderr appended to `logFile`. */
  start(name: string, args: string[], logFile: string, nodeFlags: readonly string[] = []): LabProcess {
    const fd = openSync(logFile, 'a');
    const logOffset = fstatSync(fd).size;
    const child = spawn(process.execPath, [...nodeFlags, BIN, ...args], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const proc = { name, child, logFile, logOffset, exited };
    exited.then((code) => {
      if (!this.stopping) this.onUnexpectedExit(proc, code);
    });
    this.procs.push(proc);
    return proc;
  }

  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.procs.map((p) => [p.name, p.child.pid]));
  }

  /** SIGTERM everyone, wait up to `graceMs`, SIGKILL the rest, and wait for every exit. */
  async stopAll(graceMs = 5000): Promise<void> {
    this.stopping = true;
    const alive = this.procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    for (const p of alive) p.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(alive.map((p) => p.exited)), deadline]);
    clearTimeout(timer);
    for (const p of alive)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(alive.map((p) => p.exited));
  }
}
