/**
 * One set of metrics per prom-client Registry. A name registers only once per registry, and the
 * controllers of one process share one registry (one /metrics), so each part builds its metrics
 * the first time it meets a registry and hands the same objects out after that.
 */
import type { Registry } from 'prom-client';

export function perRegistry<T>(build: (registers: Registry[]) => T): (registry: Registry) => T {
  const built = new WeakMap<Registry, T>();
  return (registry) => {
    const known = built.get(registry);
    if (known) return known;
    const metrics = build([registry]);
    built.set(registry, metrics);
    return metrics;
  };
}
