/**
 * A dial that throws before its session exists (no usable TLS context, an address Node's URL
 * parser refuses) fails the callers and backs off: the remote is not left "connecting" for good,
 * its waiters unanswered and every later tunnel queued behind them.
 */

import { describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { SessionPool } from './session-pool.js';
import { within } from './test-support/wait.js';

/** The error a tunnel gets, or 'no answer' when its callback is not called within the deadline. */
function tunnelOutcome(pool: SessionPool, host: string): Promise<unknown> {
  return within(
    new Promise((resolve) => {
      pool.tunnel({ host, port: 4143 }, 'echo.test.svc.cluster.local:7000', (err) => resolve(err));
    }),
    2_000,
    'the tunnel callback',
  ).catch(() => 'no answer');
}

describe('a dial that throws synchronously', () => {
  it('fails the tunnel waiting on it, and the next one too, instead of leaving them queued', async () => {
    let asked = 0;
    const pool = new SessionPool({
      secureContext: () => {
        asked++;
        throw new Error('no certificate loaded');
      },
      backoff: { baseMs: 1, maxMs: 1 },
    });
    try {
      const first = await tunnelOutcome(pool, '10.0.0.1');
      expect(isIsthmusError(first) && first.code).toBe('GATEWAY_UNREACHABLE');
      expect((first as Error).message).toMatch(/no certificate loaded/);
      const second = await tunnelOutcome(pool, '10.0.0.1');
      expect(isIsthmusError(second) && second.code).toBe('GATEWAY_UNREACHABLE');
      expect(asked).toBeGreaterThanOrEqual(1);
    } finally {
      await pool.close();
    }
  });

  it('fails a tunnel to an address the URL parser refuses', async () => {
    const pool = new SessionPool({ secureContext: () => ({ cert: '', key: '', ca: '' }) });
    try {
      const err = await tunnelOutcome(pool, 'a b');
      expect(isIsthmusError(err) && err.code).toBe('GATEWAY_UNREACHABLE');
    } finally {
      await pool.close();
    }
  });
});
