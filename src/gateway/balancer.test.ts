import { describe, expect, it } from 'vitest';
import { ConnectionCounter, type Endpoint, pickTwoChoices } from './balancer.js';

const eps: Endpoint[] = [0, 1, 2, 3].map((i) => ({ host: `10.0.0.${i}`, port: 80 }));

/** A deterministic PRNG (mulberry32) so the spread test does not flake. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('pickTwoChoices', () => {
  it('returns 0 for one candidate', () => {
    expect(pickTwoChoices([eps[0]!], () => 5)).toBe(0);
  });

  it('prefers the less loaded of the two sampled endpoints', () => {
    const load = (e: Endpoint) => (e.host === '10.0.0.1' ? 0 : 10);
    // random() = 0 → a = 0; second draw 0 → b = 1: endpoint 1 has the lower load.
    expect(pickTwoChoices(eps, load, () => 0)).toBe(1);
  });

  it('never samples the same index twice', () => {
    const rand = seeded(7);
    for (let i = 0; i < 1000; i++) {
      const load = (e: Endpoint) => (e === eps[2] ? 100 : 0);
      // With distinct samples, the overloaded endpoint is chosen only if both samples are it: never.
      expect(pickTwoChoices(eps, load, rand)).not.toBe(2);
    }
  });

  it('spreads long-lived connections evenly', () => {
    const counter = new ConnectionCounter();
    const rand = seeded(42);
    for (let i = 0; i < 400; i++) counter.acquire(eps[pickTwoChoices(eps, counter.load, rand)]!);
    const loads = eps.map(counter.load);
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(2);
    expect(counter.total()).toBe(400);
  });
});

describe('ConnectionCounter', () => {
  it('releases exactly once', () => {
    const c = new ConnectionCounter();
    const release = c.acquire(eps[0]!);
    c.acquire(eps[0]!);
    release();
    release();
    expect(c.load(eps[0]!)).toBe(1);
  });
});
