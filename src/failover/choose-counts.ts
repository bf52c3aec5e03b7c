/**
 * Turning weights into endpoint counts. kube-proxy (iptables, ipvs rr, nftables) spreads a
 * Service's connections uniformly over its distinct ready endpoints, whatever slice they are in,
 * so the only lever Isthmus has on the share of each backend is how many of that backend's ready
 * endpoints it lists for the apex. Duplicating an endpoint does not help: kube-proxy keys
 * endpoints by address:port and merges duplicates.
 *
 * The chooser is pure and small: for every total T it rounds each share to a count (bounded by
 * the endpoints the backend has), keeps the rounding with the smallest worst-case share error,
 * and on ties prefers more endpoints (load spread over more pods).
 */

export interface CountCandidate {
  service: string;
  weight: number;
  /** Ready endpoints the backend has. */
  available: number;
  /** Endpoints that carry traffic whatever we do (the apex's own selector-managed endpoints). */
  fixed: boolean;
}

export interface BackendShare {
  service: string;
  /** Share the weights ask for, among backends that have a ready endpoint (0..1). */
  desired: number;
  /** Endpoints listed for the apex. */
  endpoints: number;
  /** Share kube-proxy will give it: endpoints / all endpoints (0..1). */
  achieved: number;
}

export interface CountChoice {
  shares: BackendShare[];
  /** max |achieved - desired| over the backends; 0 is exact. */
  maxError: number;
}

const EPSILON = 1e-9;

export function chooseCounts(candidates: readonly CountCandidate[]): CountChoice {
  // Weight on a backend with no ready endpoint cannot be served; kube-proxy spreads it over the
  // rest, so the shares to aim at are normalised over the backends that can serve.
  const servable = candidates.filter((c) => c.available > 0);
  const totalWeight = servable.reduce((sum, c) => sum + c.weight, 0);
  const desired = (c: CountCandidate) => (c.available > 0 && totalWeight > 0 ? c.weight / totalWeight : 0);
  const fixedTotal = servable.filter((c) => c.fixed).reduce((sum, c) => sum + c.available, 0);
  const variableTotal = servable.filter((c) => !c.fixed).reduce((sum, c) => sum + c.available, 0);

  let best: { counts: number[]; error: number; total: number } | undefined;
  for (let t = 0; t <= variableTotal; t++) {
    const counts = candidates.map((c) => {
      if (c.fixed) return c.available;
      if (c.available === 0 || c.weight === 0) return 0;
      return Math.min(c.available, Math.round(desired(c) * (t + fixedTotal)));
    });
    const total = counts.reduce((a, b) => a + b, 0);
    if (total === 0) continue;
    const error = Math.max(...candidates.map((c, i) => Math.abs(counts[i]! / total - desired(c))));
    if (
      !best ||
      error < best.error - EPSILON ||
      (Math.abs(error - best.error) <= EPSILON && total > best.total)
    ) {
      best = { counts, error, total };
    }
  }
  const counts = best?.counts ?? candidates.map(() => 0);
  const total = best?.total ?? 0;
  const shares = candidates.map((c, i) => ({
    service: c.service,
    desired: desired(c),
    endpoints: counts[i]!,
    achieved: total > 0 ? counts[i]! / total : 0,
  }));
  return { shares, maxError: best?.error ?? (totalWeight > 0 ? 1 : 0) };
}
