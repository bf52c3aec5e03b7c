/**
 * Power of two choices over open connections (Mitzenmacher, "The Power of Two Choices in Randomized
 * Load Balancing", 2001): pick two endpoints at random, use the one with fewer open tunnels. Nearly
 * as good as least-loaded, without scanning every endpoint or herding onto one after a restart.
 */

export interface Endpoint {
  host: string;
  port: number;
}

export const endpointKey = (e: Endpoint): string => `${e.host}|${e.port}`;

/** Index into `candidates` of the endpoint to try; `random()` returns [0, 1). Pure. */
export function pickTwoChoices(
  candidates: readonly Endpoint[],
  load: (e: Endpoint) => number,
  random: () => number = Math.random,
): number {
  const n = candidates.length;
  if (n <= 1) return 0;
  const a = Math.floor(random() * n);
  // A second, distinct index: offset by 1..n-1.
  const b = (a + 1 + Math.floor(random() * (n - 1))) % n;
  return load(candidates[b]!) < load(candidates[a]!) ? b : a;
}

/** Open connections per endpoint; the only state the balancer keeps. */
export class ConnectionCounter {
  private readonly open = new Map<string, number>();

  readonly load = (e: Endpoint): number => this.open.get(endpointKey(e)) ?? 0;

  /** Counts one connection to `e`; call the returned function exactly once when it closes. */
  acquire(e: Endpoint): () => void {
    const k = endpointKey(e);
    this.open.set(k, (this.open.get(k) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.open.get(k) ?? 1) - 1;
      if (n <= 0) this.open.delete(k);
      else this.open.set(k, n);
    };
  }

  total(): number {
    let n = 0;
    for (const v of this.open.values()) n += v;
    return n;
  }
}
