/**
 * Just enough of the Prometheus text exposition format (version 0.0.4) to read a labelled
 * histogram and a labelled gauge from a /metrics page, and Prometheus's own histogram_quantile
 * estimate over the buckets — so `isthmus gateways` can show probe latency percentiles without a
 * Prometheus server.
 */

export interface Bucket {
  /** Upper bound; Infinity for the +Inf bucket. */
  le: number;
  /** Cumulative count of observations <= le. */
  count: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = JSON.parse(`"${l[2]}"`) as string;
    samples.push({ name: m[1]!, labels, value: parseValue(m[3]!) });
  }
  return samples;
}

/** Buckets of histogram `name` per value of `by` (e.g. target_cluster_name), sorted by le. */
export function histogramBuckets(text: string, name: string, by: string): Map<string, Bucket[]> {
  const out = new Map<string, Bucket[]>();
  for (const s of parseSamples(text)) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined) continue;
    const key = s.labels[by] ?? '';
    const list = out.get(key) ?? [];
    list.push({ le: parseValue(s.labels.le), count: s.value });
    out.set(key, list);
  }
  for (const list of out.values()) list.sort((a, b) => a.le - b.le);
  return out;
}

/** Gauge `name` per value of `by`. */
export function gaugeValues(text: string, name: string, by: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of parseSamples(text)) if (s.name === name) out.set(s.labels[by] ?? '', s.value);
  return out;
}

/** Observations made between two scrapes of the same histogram (a counter reset yields `after`). */
export function bucketDelta(before: readonly Bucket[], after: readonly Bucket[]): Bucket[] {
  const prev = new Map(before.map((b) => [b.le, b.count]));
  const delta = after.map((b) => ({ le: b.le, count: b.count - (prev.get(b.le) ?? 0) }));
  return delta.some((b) => b.count < 0) ? [...after] : delta;
}

/**
 * Prometheus histogram_quantile: find the bucket holding rank q·total and interpolate linearly
 * inside it (the lowest bucket starts at 0); a rank in +Inf gives the highest finite bound.
 * undefined when the histogram holds no observation.
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number | undefined {
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0 || buckets.at(-1)?.le !== Number.POSITIVE_INFINITY) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of buckets) {
    if (b.count >= rank && b.count > lowerCount) {
      if (b.le === Number.POSITIVE_INFINITY) return lowerBound;
      return lowerBound + (b.le - lowerBound) * ((rank - lowerCount) / (b.count - lowerCount));
    }
    lowerBound = b.le;
    lowerCount = b.count;
  }
  return lowerBound;
}
