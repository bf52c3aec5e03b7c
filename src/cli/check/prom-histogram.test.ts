import { describe, expect, it } from 'vitest';
import {
  type Bucket,
  bucketDelta,
  gaugeValues,
  histogramBuckets,
  histogramQuantile,
  parseSamples,
} from './prom-histogram.js';

const INF = Number.POSITIVE_INFINITY;
const b = (...pairs: [number, number][]): Bucket[] => pairs.map(([le, count]) => ({ le, count }));

describe('histogramQuantile (Prometheus histogram_quantile)', () => {
  it.each<[string, number, Bucket[], number | undefined]>([
    ['empty histogram', 0.5, b([1, 0], [INF, 0]), undefined],
    ['no +Inf bucket', 0.5, b([1, 3]), undefined],
    ['all in the first bucket: interpolates from 0', 0.5, b([10, 4], [INF, 4]), 5],
    ['between buckets', 0.5, b([2, 16], [5, 24], [10, 30], [INF, 40]), 3.5],
    ['p95 in +Inf gives the highest finite bound', 0.95, b([2, 1], [5, 2], [INF, 40]), 5],
    ['rank exactly on a bucket boundary', 0.5, b([1, 5], [2, 10], [INF, 10]), 1],
    ['empty middle buckets are skipped', 0.9, b([1, 1], [2, 1], [4, 1], [8, 10], [INF, 10]), 4 + (4 * 8) / 9],
  ])('%s', (_name, q, buckets, expected) => {
    const got = histogramQuantile(q, buckets);
    if (expected === undefined) expect(got).toBeUndefined();
    else expect(got).toBeCloseTo(expected, 9);
  });
});

describe('bucketDelta', () => {
  it.each<[string, Bucket[], Bucket[], Bucket[]]>([
    ['observations between scrapes', b([1, 2], [INF, 5]), b([1, 3], [INF, 9]), b([1, 1], [INF, 4])],
    ['first scrape had no series', [], b([1, 3], [INF, 9]), b([1, 3], [INF, 9])],
    ['counter reset (controller restarted)', b([1, 5], [INF, 9]), b([1, 1], [INF, 2]), b([1, 1], [INF, 2])],
  ])('%s', (_name, before, after, expected) => {
    expect(bucketDelta(before, after)).toEqual(expected);
  });
});

describe('parsing the text format', () => {
  it('reads labels in any order, escapes and special values', () => {
    const text = [
      '# TYPE x histogram',
      'x_bucket{target_cluster_name="a\\"b",le="+Inf"} 3',
      'x_bucket{le="0.5",target_cluster_name="a\\"b"} 1',
      'g{target_cluster_name="west"} 1 1700000000000',
      'plain 7',
    ].join('\n');
    expect(histogramBuckets(text, 'x', 'target_cluster_name')).toEqual(
      new Map([['a"b', b([0.5, 1], [INF, 3])]]),
    );
    expect(gaugeValues(text, 'g', 'target_cluster_name')).toEqual(new Map([['west', 1]]));
    expect(parseSamples(text).find((s) => s.name === 'plain')).toEqual({
      name: 'plain',
      labels: {},
      value: 7,
    });
  });
});
