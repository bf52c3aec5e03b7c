/**
 * Container resources per component (`--gateway-resources`, `--controller-resources`,
 * `--identity-resources`): a comma list of `requests.cpu=200m,limits.memory=1Gi` merged over the
 * defaults below, where an empty value (`limits.memory=`) removes a default. Checked as the API
 * server checks them (ValidateResourceRequirements), so a bad value stops `isthmus install` before
 * anything reaches `kubectl apply`.
 */
import { compareQuantities, parseQuantity } from '../../kube/quantity.js';
import { canonicalQuantity } from './canonical-quantity.js';

export type Component = 'gateway' | 'controller' | 'identity';
type Resource = 'cpu' | 'memory';

export interface ContainerResources {
  requests?: Readonly<Partial<Record<Resource, string>>>;
  limits?: Readonly<Partial<Record<Resource, string>>>;
}

/**
 * No CPU limit by default: CFS throttling stalls a Node event loop, and every tunnel and probe on
 * it, for the rest of the period; a memory limit only stops a leak.
 */
export const DEFAULT_RESOURCES: Readonly<Record<Component, ContainerResources>> = {
  // ~120 MiB idle plus ~20 KiB per open tunnel (docs/benchmarks.md).
  gateway: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
  // Measured: ~250 MB RSS at peak for 2 × 5,000 mirrored services (docs/benchmarks.md).
  controller: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
  // It only signs the gateways' certificates.
  identity: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
};

const KEYS = ['requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory'] as const;
type Key = (typeof KEYS)[number];

/** What is wrong with one value, or null; `''` (remove the default) is always fine. */
function quantityProblem(key: Key, value: string): string | null {
  if (value === '') return null;
  const n = parseQuantity(value);
  if (n === null || value.trim() !== value) return 'not a quantity (e.g. 200m, 128Mi, 1Gi)';
  if (n < 0) return 'must be greater than or equal to 0';
  // The API server only warns of this ("fractional byte value"); it is always a typo of Mi.
  if (key.endsWith('.memory') && !Number.isInteger(n)) {
    const milli = value.endsWith('m') ? ` (m is milli): did you mean ${value.slice(0, -1)}Mi?` : '';
    return `a fraction of a byte${milli}`;
  }
  return null;
}

/** `requests.memory=1Gi,limits.memory=` → the keys it sets ('' to remove); problems pushed. */
function parseList(flag: string, list: string, problems: string[]): Partial<Record<Key, string>> {
  const out: Partial<Record<Key, string>> = {};
  for (const item of list.split(',').map((i) => i.trim())) {
    const eq = item.indexOf('=');
    const key = item.slice(0, eq) as Key;
    const value = item.slice(eq + 1);
    const problem =
      eq < 0
        ? 'expected KEY=VALUE'
        : !KEYS.includes(key)
          ? 'the keys are requests.cpu, requests.memory, limits.cpu and limits.memory'
          : quantityProblem(key, value);
    if (problem) problems.push(`${flag} ${JSON.stringify(item)}: ${problem}`);
    // As the API server stores it (`0.5` → `500m`), so the manifest and the stored object match.
    else out[key] = value === '' ? '' : canonicalQuantity(value);
  }
  return out;
}

/** `requests` or `limits` of `base` with `set` applied: '' removes; undefined when left empty. */
function mergeMap(
  base: ContainerResources['requests'],
  set: Partial<Record<Key, string>>,
  prefix: 'requests' | 'limits',
): ContainerResources['requests'] {
  const out: Partial<Record<Resource, string>> = { ...base };
  for (const resource of ['cpu', 'memory'] as const) {
    const value = set[`${prefix}.${resource}`];
    if (value === '') delete out[resource];
    else if (value !== undefined) out[resource] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** As the API server: "must be less than or equal to cpu limit of 1" (ValidateResourceRequirements). */
function requestOverLimit(flag: string, r: ContainerResources, set: Partial<Record<Key, string>>): string[] {
  return (['cpu', 'memory'] as const).flatMap((resource) => {
    const [request, limit] = [r.requests?.[resource], r.limits?.[resource]];
    if (request === undefined || limit === undefined || compareQuantities(request, limit) !== 1) return [];
    const hint = set[`limits.${resource}`] === undefined ? ` (the default: set limits.${resource} too)` : '';
    return [
      `${flag}: requests.${resource} ${request} must be less than or equal to ${resource} limit of ${limit}${hint}`,
    ];
  });
}

/** `requests.cpu=100m,…`: a component's defaults as its flag takes them (for --help). */
export function resourcesFlagText(r: ContainerResources): string {
  return (['requests', 'limits'] as const)
    .flatMap((m) => Object.entries(r[m] ?? {}).map(([resource, value]) => `${m}.${resource}=${value}`))
    .join(',');
}

/** One component's resources: its defaults with the flag's list merged over them. */
export function componentResources(
  component: Component,
  list: string | undefined,
  problems: string[],
): ContainerResources {
  const base = DEFAULT_RESOURCES[component];
  if (list === undefined) return base;
  const flag = `--${component}-resources`;
  const set = parseList(flag, list, problems);
  const requests = mergeMap(base.requests, set, 'requests');
  const limits = mergeMap(base.limits, set, 'limits');
  const merged = { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
  problems.push(...requestOverLimit(flag, merged, set));
  return merged;
}
