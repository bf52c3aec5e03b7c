import { describe, expect, it } from 'vitest';
import { idlePercent, parseProcStat, stealPercent } from './cpu-steal.js';

const STAT = (steal: number, idle: number) =>
  `cpu  100 0 50 ${idle} 0 0 0 ${steal} 0 0\ncpu0 50 0 25 ${idle / 2} 0 0 0 ${steal / 2} 0 0\nintr 1 2 3\n`;

describe('CPU steal', () => {
  it('reads the aggregate cpu line, not a per-CPU one', () => {
    expect(parseProcStat(STAT(20, 800))).toEqual({ total: 970, steal: 20, idle: 800 });
  });

  it('gives the stolen share of all CPU time between two readings', () => {
    const before = parseProcStat(STAT(20, 800))!;
    const after = parseProcStat(STAT(120, 1200))!;
    // 100 stolen out of 500 jiffies elapsed.
    expect(stealPercent(before, after)).toBe(20);
    expect(stealPercent(before, before)).toBe(0);
  });

  it('gives the idle share (idle + iowait) between two readings', () => {
    const before = parseProcStat('cpu  100 0 50 800 10 0 0 20 0 0\n')!;
    const after = parseProcStat('cpu  300 0 100 900 30 0 0 70 0 0\n')!;
    // 120 of 420 jiffies idle or waiting for I/O.
    expect(idlePercent(before, after)).toBeCloseTo(28.57, 2);
  });

  it('answers undefined for text without a cpu line or with a short one', () => {
    expect(parseProcStat('intr 1 2 3\n')).toBeUndefined();
    expect(parseProcStat('cpu  1 2 3\n')).toBeUndefined();
  });
});
