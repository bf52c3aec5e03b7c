/**
 * The lab's child processes (identity, gateway, controller per cluster): real processes running
 * the real `isthmus` verbs, logging to files. Like a kubelet with `restartPolicy: Always`, the group
 * restarts a process that exits on its own, after a back-off that doubles from 1 s to 30 s (kubelet:
 * 10 s to 5 min; shorter here so a lab recovers while you watch) and resets once a run lasted a
 * minute. A process can also be paused and resumed (its Deployment scaled to zero and back). Ctrl-C
 * stops them with SIGTERM and, past a deadline, SIGKILL, so nothing is left behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processStart } from './process-start.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'isthmus.mjs');

export const FIRST_BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 30_000;
/** A run this long counts as healthy: the next crash starts the back-off over. */
const STABLE_RUN_MS = 60_000;

export interface Termination {
  exitCode: number | null;
  signal: string | null;
  /** The terminated run's output: [offset, end) of the log file. */
  logOffset: number;
  logEnd: number;
  startedAt: Date;
  finishedAt: Date;
}

export interface LabProcess {
  name: string;
  logFile: string;
  /** The current run. */
  child: ChildProcess;
  /** Size of the log file when the current run started: what `kubectl logs` shows begins there. */
  logOffset: number;
  startedAt: Date;
  /** The current run's start in /proc (process-start.ts), read at spawn: its pid may be reused later. */
  start?: string;
  restarts: number;
  /** The run before this one, once there was one (`kubectl logs --previous`). */
  previous?: Termination;
}

export interface ProcessEvents {
  /** A process exited on its own; it is restarted after `backoffMs`. */
  exited(p: LabProcess, t: Termination, backoffMs: number): void;
  /** A process was started again (p.child is the new run). */
  restarted(p: LabProcess): void;
}

interface Supervised {
  proc: LabProcess;
  args: string[];
  nodeFlags: readonly string[];
  /** Its pod's environment (downward-env.ts): the same for every run in the pod, new with a new pod. */
  env: Record<string, string>;
  backoffMs: number;
  timer?: NodeJS.Timeout;
  /** Stopped on purpose (its Deployment scaled to zero): not restarted. */
  paused: boolean;
}

export interface ProcessGroupOptions {
  /** The back-off after a first exit, doubled after each next one (default FIRST_BACKOFF_MS). */
  firstBackoffMs?: number;
  /** The most the back-off doubles to (default MAX_BACKOFF_MS). */
  maxBackoffMs?: number;
  /** The script node runs with each process's args (default bin/isthmus.mjs; tests run a stand-in). */
  entry?: string;
}

export interface StartOptions {
  nodeFlags?: readonly string[];
  env?: Record<string, string>;
}

export class ProcessGroup {
  private readonly procs: Supervised[] = [];
  private stopping = false;
  private readonly firstBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly entry: string;

  constructor(
    private readonly events: ProcessEvents,
    opts: ProcessGroupOptions = {},
  ) {
    this.firstBackoffMs = opts.firstBackoffMs ?? FIRST_BACKOFF_MS;
    this.maxBackoffMs = opts.maxBackoffMs ?? MAX_BACKOFF_MS;
    this.entry = opts.entry ?? BIN;
  }

  /**
   * Starts `isthmus <args>` with stdout and stderr appended to `logFile`, restarted if it exits:
   * node runs with `nodeFlags`, the process with `env` (its pod's) on top of the lab's own.
   */
  start(name: string, args: string[], logFile: string, opts: StartOptions = {}): LabProcess {
    // A start still in flight when the lab stops (an interrupted `lab up`) must not leave a process.
    if (this.stopping) throw new Error(`not starting ${name}: the lab is stopping`);
    const s: Supervised = {
      proc: { name, logFile, restarts: 0 } as LabProcess,
      args,
      nodeFlags: opts.nodeFlags ?? [],
      env: opts.env ?? {},
      backoffMs: this.firstBackoffMs,
      paused: false,
    };
    this.spawn(s);
    this.procs.push(s);
    return s.proc;
  }

  private spawn(s: Supervised): void {
    const fd = openSync(s.proc.logFile, 'a');
    s.proc.logOffset = fstatSync(fd).size;
    s.proc.startedAt = new Date();
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [...s.nodeFlags, this.entry, ...s.args], {
        stdio: ['ignore', fd, fd],
        env: labProcessEnv(process.env, s.env),
      });
    } finally {
      // The child has its own copy; the lab's would leak one descriptor per (re)start.
      closeSync(fd);
    }
    s.proc.child = child;
    const start = child.pid === undefined ? undefined : processStart(child.pid);
    if (start === undefined) delete s.proc.start;
    else s.proc.start = start;
    child.once('exit', (code, signal) => {
      if (this.stopping || s.paused) return;
      const finishedAt = new Date();
      const t: Termination = {
        exitCode: code,
        signal,
        logOffset: s.proc.logOffset,
        logEnd: statSync(s.proc.logFile).size,
        startedAt: s.proc.startedAt,
        finishedAt,
      };
      if (finishedAt.getTime() - t.startedAt.getTime() >= STABLE_RUN_MS) s.backoffMs = this.firstBackoffMs;
      const wait = s.backoffMs;
      s.backoffMs = Math.min(s.backoffMs * 2, this.maxBackoffMs);
      s.proc.previous = t;
      this.events.exited(s.proc, t, wait);
      s.timer = setTimeout(() => {
        if (this.stopping || s.paused) return;
        s.proc.restarts++;
        this.spawn(s);
        this.events.restarted(s.proc);
      }, wait);
    });
  }

  /** Stops a process for good (SIGTERM, SIGKILL past `graceMs`) until resume(); a new run then starts afresh. */
  async pause(name: string, graceMs = 5000): Promise<void> {
    const s = this.find(name);
    if (s.paused) return;
    s.paused = true;
    clearTimeout(s.timer);
    await terminate([s.proc.child], graceMs);
  }

  /**
   * Starts a paused process again: a new pod's first run (no restarts, no previous run), with its
   * `env` and, where given, its `args` (a new pod template's; else the args it had).
   */
  resume(name: string, env: Record<string, string> = {}, args?: string[]): LabProcess {
    const s = this.find(name);
    if (!s.paused || this.stopping) return s.proc;
    s.paused = false;
    s.env = env;
    if (args) s.args = args;
    s.backoffMs = this.firstBackoffMs;
    s.proc.restarts = 0;
    delete s.proc.previous;
    this.spawn(s);
    return s.proc;
  }

  /** The process called `name`, if the group runs one. */
  process(name: string): LabProcess | undefined {
    return this.procs.find((x) => x.proc.name === name)?.proc;
  }

  isPaused(name: string): boolean {
    return this.find(name).paused;
  }

  private find(name: string): Supervised {
    const s = this.procs.find((x) => x.proc.name === name);
    if (!s) throw new Error(`no lab process ${name}`);
    return s;
  }

  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.procs.map((s) => [s.proc.name, s.proc.child.pid]));
  }

  /** By pid, the start of each process's current run, where /proc tells it. */
  starts(): Record<string, string> {
    return Object.fromEntries(
      this.procs.flatMap((s) => (s.proc.child.pid && s.proc.start ? [[s.proc.child.pid, s.proc.start]] : [])),
    );
  }

  /** SIGTERM everyone, wait up to `graceMs`, SIGKILL the rest, and wait for every exit. */
  async stopAll(graceMs = 5000): Promise<void> {
    this.stopping = true;
    for (const s of this.procs) clearTimeout(s.timer);
    await terminate(
      this.procs.map((s) => s.proc.child),
      graceMs,
    );
  }
}

/** SIGTERM the running ones, SIGKILL what is left after `graceMs`, and wait for every exit. */
/**
 * A lab process's environment: the lab's own without its `ISTHMUS_*` settings (a process reads
 * those as flags, so one left in the shell that ran `lab up`, `ISTHMUS_KUBE_CONTEXT` say, would
 * override what its Deployment declares, which a pod never inherits), then its pod's.
 */
export function labProcessEnv(parent: NodeJS.ProcessEnv, pod: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(parent).filter(([k]) => !k.startsWith('ISTHMUS_')));
  return { ...inherited, ...pod, NODE_NO_WARNINGS: '1' };
}

async function terminate(children: ChildProcess[], graceMs: number): Promise<void> {
  const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  const alive = children.filter(running);
  const exited = alive.map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
  for (const c of alive) c.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs);
  });
  await Promise.race([Promise.all(exited), deadline]);
  clearTimeout(timer);
  for (const c of alive) if (running(c)) c.kill('SIGKILL');
  await Promise.all(exited);
}
