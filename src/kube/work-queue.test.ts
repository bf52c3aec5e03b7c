import { afterEach, describe, expect, it } from 'vitest';
import { IsthmusError } from '../errors.js';
import { waitFor } from '../mirror/test-wait.js';
import { backoffDelay, WorkQueue } from './work-queue.js';

const queues: WorkQueue[] = [];
afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop()));
});
function queue(opts: ConstructorParameters<typeof WorkQueue>[0]): WorkQueue {
  const q = new WorkQueue(opts);
  queues.push(q);
  return q;
}

describe('WorkQueue', () => {
  it('collapses duplicate keys', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = queue({
      handler: async (key) => {
        seen.push(key);
        if (key === 'a') await gate;
      },
    });
    q.add('a');
    q.add('b');
    q.add('b');
    q.add('b');
    release();
    await waitFor(() => seen.length === 2);
    await q.idle();
    expect(seen).toEqual(['a', 'b']);
  });

  it('re-runs a key added while it is in flight, never concurrently', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = queue({
      concurrency: 4,
      handler: async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        runs++;
        if (runs === 1) await gate;
        inFlight--;
      },
    });
    q.add('k');
    await waitFor(() => runs === 1);
    q.add('k');
    q.add('k');
    release();
    await waitFor(() => runs === 2);
    await q.idle();
    expect(maxInFlight).toBe(1);
    expect(runs).toBe(2);
  });

  it('retries failures with backoff until they succeed', async () => {
    let calls = 0;
    const errors: number[] = [];
    const q = queue({
      backoff: { baseMs: 5, maxMs: 20 },
      handler: async () => {
        calls++;
        if (calls < 4) throw new Error('transient');
      },
      onError: (_k, _e, n) => errors.push(n),
    });
    q.add('k');
    await waitFor(() => calls === 4);
    expect(errors).toEqual([1, 2, 3]);
  });

  it('retries a terminal error only after terminalRetryMs, reporting each failure', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const q = queue({
      backoff: { baseMs: 1, maxMs: 1 },
      terminalRetryMs: 60_000,
      handler: async (key) => {
        calls++;
        if (key === 'k') throw new IsthmusError('KUBE_FORBIDDEN', 'forbidden', { terminal: true });
      },
      onError: (_k, e) => errors.push(e),
    });
    q.add('k');
    await waitFor(() => errors.length === 1);
    await q.idle();
    q.add('other'); // a later key still runs: the queue is alive
    await waitFor(() => calls === 2);
    expect(errors).toHaveLength(1); // not retried on the fast backoff
    expect(q.length).toBe(0); // 'k' waits for its slow retry: nothing the queue can do until then
  });

  it('tries a terminal failure again once terminalRetryMs has passed (a Role re-applied sends no event)', async () => {
    let forbidden = true;
    const done: string[] = [];
    const q = queue({
      terminalRetryMs: 20,
      handler: async (key) => {
        if (forbidden) {
          forbidden = false;
          throw new IsthmusError('KUBE_FORBIDDEN', 'forbidden', { terminal: true });
        }
        done.push(key);
      },
    });
    q.add('k');
    await waitFor(() => done.length === 1);
    expect(done).toEqual(['k']);
  });

  it('a stop with a grace period does not wait for a handler that never returns', async () => {
    let started = false;
    // Not in `queues`: the afterEach stop without a bound would wait for it for ever.
    const q = new WorkQueue({
      handler: () => {
        started = true;
        return new Promise<void>(() => {}); // a request to a server that never answers
      },
    });
    q.add('stuck');
    await waitFor(() => started);
    expect(await q.stop({ graceMs: 10 })).toBe(true);
    q.add('later'); // stopped: takes nothing
    expect(q.length).toBe(1);
  });

  it('a stop with a grace period still waits for handlers that finish', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let done = false;
    const q = queue({
      handler: async () => {
        await gate;
        done = true;
      },
    });
    q.add('k');
    const stopped = q.stop({ graceMs: 60_000 });
    release();
    expect(await stopped).toBe(false);
    expect(done).toBe(true);
  });

  it.each([
    [1, 100],
    [2, 200],
    [5, 1600],
    [20, 30_000],
  ])('backoff after %d failures is %d ms', (n, ms) => expect(backoffDelay(n)).toBe(ms));
});
