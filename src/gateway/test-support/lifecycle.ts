import { afterEach, beforeAll } from 'vitest';
import { makePki, type TestPki } from './pki.js';

/**
 * A test file's shared PKI (made once: RSA keys are slow) and its per-test clean-ups, run in
 * reverse order after each test.
 */
export function dataPathLifecycle(): { pki: () => TestPki; cleanups: Array<() => Promise<void> | void> } {
  let pki: TestPki | undefined;
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeAll(() => {
    pki = makePki();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    pki: () => {
      if (!pki) throw new Error('the PKI is made in beforeAll');
      return pki;
    },
    cleanups,
  };
}
