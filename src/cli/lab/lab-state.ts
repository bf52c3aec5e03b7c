/**
 * `<dir>/state.json`: what a running local lab publishes for `lab status`, `lab down` and tests
 * (its pid, kubeconfig, addresses, process pids). Written by the lab up process only, and removed
 * only by it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export interface LabState {
  pid: number;
  kubeconfig: string;
  clusters: { name: string; api: string; gatewayAdmin: string; controllerAdmin: string }[];
  frontend: string;
  processes: Record<string, number | undefined>;
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

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The state of a lab running from `dir` in another process, if any. */
export async function runningLab(dir: string): Promise<LabState | undefined> {
  const state = await readLabState(dir);
  return state && state.pid !== process.pid && processAlive(state.pid) ? state : undefined;
}
