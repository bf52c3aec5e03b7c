/**
 * The lab's process supervision with a real `isthmus` process that fails at once (an unknown
 * verb): it is restarted with a doubling back-off, each run's output range is kept for
 * `kubectl logs --previous`, and a paused process stays down until resumed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../wait-for.js';
import {
  FIRST_BACKOFF_MS,
  type LabProcess,
  labProcessEnv,
  MAX_BACKOFF_MS,
  ProcessGroup,
  type Termination,
} from './processes.js';

/**
 * The first back-off here: a tenth of the lab's, so the runs below do not wait 1 + 2 s for it. A
 * run (node starting isthmus, which refuses the verb) takes longer than four of these, so a
 * restart is never due before the test has looked at the exits it waited for.
 */
const BACKOFF_MS = 100;

const dir = mkdtempSync(join(tmpdir(), 'isthmus-procs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ProcessGroup', () => {
  it('restarts a process that exits, doubling the back-off, and keeps the previous run', async () => {
    const exits: { t: Termination; backoffMs: number; restarts: number }[] = [];
    const starts: number[] = [];
    const group = new ProcessGroup(
      {
        exited: (p: LabProcess, t, backoffMs) => exits.push({ t, backoffMs, restarts: p.restarts }),
        restarted: (p: LabProcess) => starts.push(p.restarts),
      },
      { firstBackoffMs: BACKOFF_MS },
    );
    const log = join(dir, 'crashy.log');
    const p = group.start('test/crashy', ['no-such-verb'], log);
    try {
      await waitFor('three exits', () => exits.length >= 3 || undefined, {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
      expect(exits.map((e) => e.backoffMs)).toEqual([BACKOFF_MS, 2 * BACKOFF_MS, 4 * BACKOFF_MS]);
      expect(exits.map((e) => e.restarts)).toEqual([0, 1, 2]);
      expect(starts.slice(0, 2)).toEqual([1, 2]);
      expect(exits[0]!.t.exitCode).not.toBe(0);
      // Each run's output is its own byte range of the one log file.
      const text = readFileSync(log, 'utf8');
      const first = exits[0]!.t;
      const second = exits[1]!.t;
      expect(first.logOffset).toBe(0);
      expect(second.logOffset).toBe(first.logEnd);
      expect(text.slice(first.logOffset, first.logEnd)).toContain('no-such-verb');
      expect(text.slice(second.logOffset, second.logEnd)).toContain('no-such-verb');
      expect(p.previous).toEqual(exits[2]!.t);

      // Paused: no restart, however long it waits (the next back-off, 8 × BACKOFF_MS, is cancelled).
      await group.pause('test/crashy');
      expect(group.isPaused('test/crashy')).toBe(true);
      const resumed = group.resume('test/crashy');
      expect(resumed.restarts).toBe(0);
      expect(resumed.previous).toBeUndefined();
      await waitFor('the resumed run to exit', () => exits.length >= 4 || undefined, {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
      // A fresh pod's back-off starts over.
      expect(exits[3]!.backoffMs).toBe(BACKOFF_MS);
    } finally {
      await group.stopAll();
    }
  }, 60_000);

  it("the lab's own back-off, like the kubelet's but shorter: 1 s first, doubling to at most 30 s", async () => {
    expect([FIRST_BACKOFF_MS, MAX_BACKOFF_MS]).toEqual([1000, 30_000]);
    const backoffs: number[] = [];
    const group = new ProcessGroup({ exited: (_p, _t, ms) => backoffs.push(ms), restarted: () => undefined });
    group.start('test/default', ['no-such-verb'], join(dir, 'default.log'));
    try {
      await waitFor('the first exit', () => backoffs.length >= 1 || undefined, {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
    } finally {
      // Cancels the restart it scheduled.
      await group.stopAll();
    }
    expect(backoffs).toEqual([FIRST_BACKOFF_MS]);
  });

  it.runIf(process.platform === 'linux')(
    'keeps no log-file descriptor open in the lab process across restarts',
    async () => {
      const openFds = () => readdirSync('/proc/self/fd').length;
      const before = openFds();
      let exits = 0;
      const group = new ProcessGroup(
        { exited: () => exits++, restarted: () => undefined },
        { firstBackoffMs: BACKOFF_MS },
      );
      group.start('test/leaky', ['no-such-verb'], join(dir, 'leaky.log'));
      try {
        await waitFor('two exits', () => exits >= 2 || undefined, { timeoutMs: 30_000, intervalMs: 50 });
      } finally {
        await group.stopAll();
      }
      // Two runs: one descriptor each was left open, and the lab restarts for as long as it runs.
      expect(openFds()).toBe(before);
    },
    60_000,
  );
});

describe('labProcessEnv', () => {
  it("drops the shell's ISTHMUS_* settings: a process takes what its Deployment declares, as a pod does", () => {
    const env = labProcessEnv(
      { PATH: '/usr/bin', ISTHMUS_KUBE_CONTEXT: 'prod', ISTHMUS_LOG_LEVEL: 'debug' },
      { ISTHMUS_MAX_TUNNELS: '500' },
    );
    expect(env).toEqual({ PATH: '/usr/bin', ISTHMUS_MAX_TUNNELS: '500', NODE_NO_WARNINGS: '1' });
  });
});
