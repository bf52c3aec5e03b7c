/**
 * `<dir>/state.json`: what a running local lab publishes for `lab status`, `lab down` and tests
 * (its pid, kubeconfig, addresses, process pids). Written by the lab up process only, and removed
 * only by it, so a lab that crashed, or a reboot, leaves it behind: its pids may belong to unrelated
 * processes by then. Each pid is trusted only while /proc says it is the process recorded.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isZombie, type ProcRead, processStart, readProc } from './process-start.js';

/** `lab up`'s default --dir for the local lab. */
export const LOCAL_LAB_DIR = '.lab/local';

/** The command that stops the lab of `dir`: a hint without its --dir would act on the default lab. */
export function labDownCommand(dir: string): string {
  return dir === LOCAL_LAB_DIR ? 'isthmus lab down' : `isthmus lab down --dir ${dir}`;
}

export interface LabState {
  pid: number;
  /**
   * Set while `lab up` is still starting: written at once and updated as processes start, so that
   * `lab status` sees a lab that is starting and `lab down` finds what a lab killed mid-start left.
   * The clusters and the frontend are filled in when it is up.
   */
  starting?: true;
  kubeconfig: string;
  clusters: {
    name: string;
    api: string;
    gatewayAdmin: string;
    controllerAdmin: string;
    /** host:port of the identity service. */
    identity?: string;
    /** host:port of identity's plaintext grpc.health.v1, which its probes ask (absent in older states). */
    identityHealth?: string;
    /** URL of identity's admin server (/metrics, /ready, /live; absent in older states). */
    identityAdmin?: string;
  }[];
  frontend: string;
  /** By process name (`east/gateway`): the pid of its current run; a new run records its own. */
  processes: Record<string, number | undefined>;
  /**
   * By pid, the lab's and its processes': when each started (process-start.ts). Absent where there
   * is no /proc (not Linux): then a pid that runs counts as recorded.
   */
  starts?: Record<string, string>;
}

export function stateFile(dir: string): string {
  return join(resolve(dir), 'state.json');
}

export async function readLabState(dir: string): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(dir), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export async function writeLabState(dir: string, state: LabState): Promise<void> {
  await writeFile(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * LabState.starts of the lab (this process) and its processes (`children`, read when each was
 * spawned); undefined without /proc.
 */
export function labStarts(children: Record<string, string>, read: ProcRead = readProc) {
  const own = processStart(process.pid, read);
  return own === undefined ? undefined : { ...children, [process.pid]: own };
}

/** Whether `pid` runs: signal 0 reaches a zombie too, which has exited, so /proc is asked as well. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !isZombie(pid);
}

/**
 * Whether `pid` still runs the process the state recorded: the same start (a reused pid started
 * later, or on another boot). A pid with no recorded start is not trusted, unless the state was
 * written without /proc.
 */
export function isRecordedProcess(state: LabState, pid: number | undefined, read: ProcRead = readProc) {
  if (pid === undefined) return false;
  if (!state.starts) return processAlive(pid);
  const start = state.starts[pid];
  return start !== undefined && processStart(pid, read) === start;
}

/** The state of a lab running from `dir` in another process, if any. */
export async function runningLab(dir: string, read: ProcRead = readProc): Promise<LabState | undefined> {
  const state = await readLabState(dir);
  return state && state.pid !== process.pid && isRecordedProcess(state, state.pid, read) ? state : undefined;
}

/** The recorded processes that still run although the lab process is gone (it was killed). */
export function processesLeftRunning(state: LabState, read: ProcRead = readProc): [string, number][] {
  // Only where starts were recorded: a bare pid from an old state may be anyone's by now.
  if (!state.starts) return [];
  return Object.entries(state.processes).filter((e): e is [string, number] =>
    isRecordedProcess(state, e[1], read),
  );
}

/**
 * Why `lab up` must not start from `dir`: a lab runs from it, or processes a killed lab left still
 * hold its addresses (a new gateway could not bind, and the old one would answer the new lab's
 * readiness checks with the old certificates).
 */
export async function labUpConflict(dir: string, read: ProcRead = readProc): Promise<string | undefined> {
  const running = await runningLab(dir, read);
  if (running)
    return `a lab is already running from ${dir} (pid ${running.pid}); stop it with \`${labDownCommand(dir)}\`, or start another with --dir and --base`;
  const state = await readLabState(dir);
  if (!state || state.pid === process.pid) return undefined;
  const left = processesLeftRunning(state, read).map(([name]) => name);
  if (left.length === 0) return undefined;
  return `processes of a lab that exited still run from ${dir} (${left.join(', ')}); stop them with \`${labDownCommand(dir)}\` first`;
}
