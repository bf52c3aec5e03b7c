import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { within } from '../../kube/test-support.js';
import { waitFor } from '../../wait-for.js';
import { fakeProc, statLine } from './fake-proc.js';
import { processAlive } from './lab-state.js';
import { type ProcRead, processStart, readProc } from './process-start.js';

describe('processStart', () => {
  it('reads the start ticks after the last ")" of comm, with the boot id', () => {
    const read: ProcRead = (path) =>
      path.endsWith('boot_id') ? 'b-1\n' : statLine(7, 'isthmus (lab) up', 4242);
    expect(processStart(7, read)).toBe('b-1/4242');
  });

  it('is undefined for a zombie: it has exited, only its parent has not reaped it yet', () => {
    const read: ProcRead = (path) => (path.endsWith('boot_id') ? 'b-1\n' : statLine(7, 'node', 4242, 'Z'));
    expect(processStart(7, read)).toBeUndefined();
  });

  it.runIf(process.platform === 'linux')(
    'processAlive: a child that exited but is not reaped yet is not alive',
    async () => {
      // A parent that never waits: the shell execs `sleep`, which does not reap the background child
      // it inherits. The child is killed only once the exec has happened (the shell would reap it
      // before), so it stays a zombie until the parent goes.
      const shell = spawn('sh', ['-c', 'sleep 60 & echo $!; exec sleep 60'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      try {
        const child = await within(
          new Promise<number>((resolve) =>
            shell.stdout.once('data', (c: Buffer) => resolve(Number(`${c}`.trim()))),
          ),
          10_000,
          'the background child',
        );
        const state = (pid: number) => readProc(`/proc/${pid}/stat`)?.split(') ')[1]?.[0];
        await waitFor(
          'the shell to exec sleep',
          () => readProc(`/proc/${shell.pid}/comm`)?.trim() === 'sleep',
          {
            timeoutMs: 10_000,
          },
        );
        expect(processAlive(child)).toBe(true);
        process.kill(child, 'SIGKILL');
        await waitFor('the child to be a zombie', () => state(child) === 'Z', { timeoutMs: 10_000 });
        expect(processAlive(child)).toBe(false);
        expect(processStart(child)).toBeUndefined();
      } finally {
        shell.kill('SIGKILL');
      }
    },
  );

  it('is undefined for a process that does not run, and without /proc', () => {
    expect(processStart(7, fakeProc('b-1', {}))).toBeUndefined();
    expect(processStart(7, () => undefined)).toBeUndefined();
  });

  it.runIf(process.platform === 'linux')('tells this process from another, and is stable', async () => {
    const own = processStart(process.pid);
    expect(own).toMatch(/^[0-9a-f-]+\/\d+$/);
    expect(processStart(process.pid)).toBe(own);
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      expect(processStart(child.pid!)).not.toBe(own);
      expect(processStart(child.pid!)).toBeDefined();
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });
});
