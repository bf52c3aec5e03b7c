import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
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
    () => {
      // spawnSync's child is reaped by spawnSync itself; a shell that outlives its own child without
      // waiting keeps one: `sh -c 'sleep 0 & exec sleep 5'` leaves the exited sleep 0 unreaped.
      const shell = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      return new Promise<void>((resolve, reject) => {
        shell.stdout.once('data', (chunk: Buffer) => {
          const zombie = Number(chunk.toString().trim());
          waitFor(
            'the child to exit',
            () => readProc(`/proc/${zombie}/stat`)?.split(') ')[1]?.startsWith('Z') ?? false,
            {
              timeoutMs: 10_000,
            },
          )
            .then(() => {
              expect(processAlive(zombie)).toBe(false);
              expect(processStart(zombie)).toBeUndefined();
            })
            .then(resolve, reject)
            .finally(() => shell.kill('SIGKILL'));
        });
      });
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
