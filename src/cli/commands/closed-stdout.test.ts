/**
 * `isthmus lab status | head`: a reader that stops reading closes the pipe, and the CLI's next
 * write to stdout fails with EPIPE. The command ends there, quietly and with status 0, as other
 * command-line tools do; not with an unhandled 'error' event and a stack trace.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endOnClosedStdout, onClosedStdout } from '../closed-stdout.js';
import type { LabState } from '../lab/lab-state.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'closed-stdout-'));
  // A lab that `lab status` reports as running: its pid is this test's, alive (no recorded start
  // times, as where there is no /proc); nothing answers at its addresses.
  const nowhere = 'http://127.0.0.1:9';
  const state: LabState = {
    pid: process.pid,
    kubeconfig: join(dir, 'kubeconfig'),
    clusters: ['east', 'west'].map((name) => ({
      name,
      api: 'https://127.0.0.1:9',
      gatewayAdmin: nowhere,
      controllerAdmin: nowhere,
    })),
    frontend: nowhere,
    processes: {},
  };
  writeFileSync(join(dir, 'state.json'), JSON.stringify(state));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI with its stdout a pipe whose reading end is closed before the CLI writes to it. */
function runWithClosedStdout(
  args: string[],
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/isthmus.mjs', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The reader goes away at once: every write the CLI makes to stdout meets a closed pipe.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('stdout closed by its reader', () => {
  it('`lab status` ends quietly with status 0', async () => {
    const r = await runWithClosedStdout(['lab', 'status', '--dir', dir]);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
  }, 60_000);

  it('so does a command whose answer is an error status (`lab status` with no lab: 1 otherwise)', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'closed-stdout-none-'));
    try {
      const r = await runWithClosedStdout(['lab', 'status', '--dir', empty]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('endOnClosedStdout', () => {
  const epipe = () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });

  it('ends with status 0 at the first EPIPE, and ignores what later writes report', () => {
    const stdout = new EventEmitter();
    const exits: number[] = [];
    endOnClosedStdout(stdout, (code) => exits.push(code));
    stdout.emit('error', epipe());
    stdout.emit('error', Object.assign(new Error('destroyed'), { code: 'ERR_STREAM_DESTROYED' }));
    expect(exits).toEqual([0]);
  });

  it('a command that must clean up first is told instead (`lab up` stops its processes)', () => {
    const stdout = new EventEmitter();
    const exits: number[] = [];
    let told = 0;
    const off = onClosedStdout(() => told++);
    try {
      endOnClosedStdout(stdout, (code) => exits.push(code));
      stdout.emit('error', epipe());
      stdout.emit('error', epipe());
    } finally {
      off();
    }
    expect(told).toBe(1);
    expect(exits).toEqual([]);
  });

  it('any other error on stdout is not swallowed', () => {
    const stdout = new EventEmitter();
    endOnClosedStdout(stdout, () => undefined);
    expect(() => stdout.emit('error', Object.assign(new Error('bad fd'), { code: 'EBADF' }))).toThrow(
      'bad fd',
    );
  });
});
