import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fakeProc, statLine } from './fake-proc.js';
import { type ProcRead, processStart } from './process-start.js';

describe('processStart', () => {
  it('reads the start ticks after the last ")" of comm, with the boot id', () => {
    const read: ProcRead = (path) =>
      path.endsWith('boot_id') ? 'b-1\n' : statLine(7, 'isthmus (lab) up', 4242);
    expect(processStart(7, read)).toBe('b-1/4242');
  });

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
