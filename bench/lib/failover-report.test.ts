import { describe, expect, it } from 'vitest';
import {
  type FailoverBenchResult,
  failoverRows,
  meetsGoal,
  renderFailoverSection,
  spread,
  verdict,
} from './failover-report.js';

function result(failoverMs: number[], backMs: number[] = [120, 80, 100]): FailoverBenchResult {
  return {
    date: '2026-11-24T12:00:00.000Z',
    machine: '2 × AMD EPYC, Node v20.20.2',
    failoverMs,
    backMs,
    load: '0.5',
    stolen: '0.0 %',
    rateLimitWaitMs: 0,
    requestsPerRound: 24,
    restMs: 2_000,
  };
}

describe('spread', () => {
  it('gives min, nearest-rank p50 and max whatever the order of the rounds', () => {
    expect(spread([300, 100, 200])).toEqual({ count: 3, minMs: 100, p50Ms: 200, maxMs: 300 });
    // Nearest rank: the lower middle of an even count.
    expect(spread([40, 10, 30, 20]).p50Ms).toBe(20);
  });

  it('refuses an empty run', () => {
    expect(() => spread([])).toThrow(/no rounds/);
  });
});

describe('the 1 s goal', () => {
  it('is met only when every round is under it', () => {
    expect(meetsGoal(spread([150, 999.4]))).toBe(true);
    expect(meetsGoal(spread([150, 160, 1_000]))).toBe(false);
    expect(verdict(result([150, 170, 200]))).toBe(
      'PASS: failover under 1000 ms in all 3 rounds (worst 200 ms = 0.20× the goal, p50 170 ms = 0.17×)',
    );
    expect(verdict(result([150, 1_200, 1_500]))).toBe(
      'FAIL: failover took 1000 ms or more in 2 of 3 rounds (worst 1500 ms = 1.50× the goal, p50 1200 ms = 1.20×)',
    );
  });

  it('rates failover against the goal and shows back for scale only', () => {
    const [out, back] = failoverRows(result([150, 170, 200]));
    expect(out).toMatchObject({
      min: '150',
      p50: '170',
      max: '200',
      p50Ratio: '0.17×',
      maxRatio: '0.20×',
      met: '✓',
    });
    expect(back).toMatchObject({ min: '80', p50: '100', max: '120', met: '—' });
    expect(back?.goal).toMatch(/^none/);
    expect(failoverRows(result([150, 1_500]))[0]?.met).toBe('×');
    expect(failoverRows(result([150], []))).toHaveLength(1);
  });
});

describe('the docs section', () => {
  it('is a `## Failover` section with the table, the verdict and every round', () => {
    const text = renderFailoverSection(result([150, 170, 200]));
    expect(text.split('\n')[0]).toBe('## Failover');
    expect(text).toContain('`npm run bench:failover` — 2026-11-24, 2 × AMD EPYC, Node v20.20.2; 3 rounds');
    expect(text).toContain(
      '| failover: primary not ready → first answer from a remote cluster (ms) | < 1000 in every round | 150 | 170 | 200 | 0.17× | 0.20× | ✓ |',
    );
    expect(text).toContain('PASS: failover under 1000 ms in all 3 rounds');
    expect(text).toContain('has sent nothing for 2000 ms, so no round pays for the previous one');
    expect(text).toContain('Rounds (ms), failover: 150, 170, 200; back: 120, 80, 100.');
  });
});
