/**
 * Loads of the CRL that overlap (identity's reload for a new anchor, the file watch's apply of a new
 * file) put the one started last in force, whichever finishes first (a review's finding: a slow
 * reload of the old file put the older list back after the watch applied the newer one, and the
 * revocations it added stayed dropped until the file changed again).
 */
import { describe, expect, it } from 'vitest';
import { startedLastWins } from './crl-watch.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('startedLastWins', () => {
  it('drops a load that finishes after a later one was applied', async () => {
    const applied: string[] = [];
    const run = startedLastWins<string>((v) => applied.push(v));
    const slowOld = deferred<string>();
    const first = run(() => slowOld.promise);
    await run(async () => 'new file');
    slowOld.resolve('old file');
    await first;
    expect(applied).toEqual(['new file']);
  });

  it('applies loads in the order they finish when each started after the last applied', async () => {
    const applied: string[] = [];
    const run = startedLastWins<string>((v) => applied.push(v));
    const a = deferred<string>();
    const b = deferred<string>();
    const first = run(() => a.promise);
    const second = run(() => b.promise);
    a.resolve('first');
    await first;
    b.resolve('second');
    await second;
    expect(applied).toEqual(['first', 'second']);
  });
});
