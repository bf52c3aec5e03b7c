import { describe, expect, it } from 'vitest';
import { checkTargets, type GatewayBenchReport, type PathResult, renderGatewaySection } from './report.js';

function path(keepAlive: number, newConns: number, p50Ms: number, p99Ms: number, kib?: number): PathResult {
  const wrk = (requestsPerSec: number) => ({
    requests: requestsPerSec * 10,
    requestsPerSec,
    socketErrors: 0,
    non2xx: 0,
  });
  return {
    keepAlive: wrk(keepAlive),
    newConnections: wrk(newConns),
    latency: { p50Ms, p99Ms, rate: 1000, errors: 0 } as PathResult['latency'],
    ...(kib === undefined
      ? {}
      : { idle: { beforeKiB: 1000, afterKiB: 1000 + kib * 1000, perTunnelKiB: kib } }),
  };
}

function report(withImage: boolean): GatewayBenchReport {
  return {
    date: '2026-11-22T00:00:00Z',
    machine: { nproc: 2, cpu: 'cpu', node: 'v20.20.2', loadavg: '0.1 / 0.1 / 0.1' },
    revision: 'abc1234',
    loadavgAtStart: '0.1 / 0.1 / 0.1',
    stolenCpu: '1.0 %',
    tools: {},
    settings: { keepAlive: 'k', newConnections: 'n', latency: 'l', idleTunnels: 1000 },
    paths: {
      direct: path(100_000, 30_000, 0.05, 0.5),
      isthmus: path(40_000, 3_000, 0.3, 2, 12),
      haproxy: path(50_000, 1_000, 0.2, 1, 66),
      ...(withImage ? { isthmusImage: path(50_000, 4_000, 0.24, 0.5, 13) } : {}),
    },
    ...(withImage ? { imageNode: 'v22.23.3' } : {}),
    notes: [],
    analysis: '',
  };
}

describe('gateway report', () => {
  it('checks the targets on the pair under the machine Node by default, on another pair when given', () => {
    const r = report(true);
    expect(checkTargets(r).map((c) => c.met)).toEqual([false, true, false, false, true]);
    expect(checkTargets(r, r.paths.isthmusImage).map((c) => c.met)).toEqual([true, true, true, true, true]);
  });

  it("shows the image's Node pair as its own row, ratio and target column only when measured", () => {
    const without = renderGatewaySection(report(false));
    expect(without).not.toContain('v22.23.3');
    expect(without).toContain('| target (Isthmus pair) | measured | target | prototype | met |');

    const withImage = renderGatewaySection(report(true));
    expect(withImage).toContain('| (b′) the same Isthmus pair under Node v22.23.3');
    expect(withImage).toContain('| isthmus on Node v22.23.3 ÷ haproxy | 1.00× | 4.00× |');
    expect(withImage).toContain(
      '| keep-alive throughput vs haproxy | 0.80× | ≥ 1.00× | 0.86× | × | 1.00× ✓ |',
    );
    // Rows keep table order: direct, the two Isthmus pairs, haproxy.
    const rows = withImage.split('\n').filter((l) => /^\| \((a|b|b′|c)\)/.test(l));
    expect(rows.map((l) => l.slice(2, 6))).toEqual(['(a) ', '(b) ', '(b′)', '(c) ']);
  });
});

describe('cost under load', () => {
  it("tabulates each proxy pair's CPU and sleeps per request and the idle share, only when measured", () => {
    const r = report(false);
    expect(renderGatewaySection(r)).not.toContain('Under the keep-alive load');
    r.paths.isthmus.keepAlive.cost = {
      cpuUsPerRequest: [16.71, 15.04],
      sleepsPerRequest: [0.0312, 0.029],
      idlePercent: 18.24,
    };
    r.paths.haproxy.keepAlive.cost = { cpuUsPerRequest: [14.7, 15], sleepsPerRequest: [0.02, 0.03] };
    r.paths.direct.keepAlive.cost = { cpuUsPerRequest: [], sleepsPerRequest: [], idlePercent: 5 };
    const text = renderGatewaySection(r);
    expect(text).toContain('| isthmus | 16.7 + 15.0 | 0.031 + 0.029 | 18.2 % |');
    expect(text).toContain('| haproxy | 14.7 + 15.0 | 0.020 + 0.030 | n/a |');
    // The direct path has no proxy to cost.
    expect(text).not.toMatch(/^\| direct \| — \|/m);
  });
});

describe('concurrency sweep', () => {
  it('puts the main keep-alive run among the extra concurrencies, with ratios to haproxy', () => {
    const r = report(true);
    expect(renderGatewaySection(r)).not.toContain('by concurrency');
    r.settings.keepAliveConnections = 64;
    const wrk = (requestsPerSec: number, idlePercent?: number) => ({
      requests: requestsPerSec * 5,
      requestsPerSec,
      socketErrors: 0,
      non2xx: 0,
      ...(idlePercent === undefined
        ? {}
        : { cost: { cpuUsPerRequest: [], sleepsPerRequest: [], idlePercent } }),
    });
    r.paths.isthmus.keepAliveByConnections = { 16: wrk(30_000, 19.4), 256: wrk(44_000) };
    r.paths.haproxy.keepAliveByConnections = { 16: wrk(50_000), 256: wrk(40_000, 10.2) };
    const text = renderGatewaySection(r);
    expect(text).toContain('| path | 16 connections | 64 connections | 256 connections |');
    expect(text).toContain('| isthmus | 30,000 (0.60×), 19 % idle | 40,000 (0.80×) | 44,000 (1.10×) |');
    expect(text).toContain('| haproxy | 50,000 | 50,000 | 40,000, 10 % idle |');
    // A pair without the sweep (here the image's) shows only the main column.
    expect(text).toContain('| isthmus on Node v22.23.3 | — | 50,000 (1.00×) | — |');
  });
});

describe('idle tunnel memory', () => {
  it('does not count a fallen RSS as a met target', () => {
    const r = report(true);
    r.paths.isthmusImage = path(50_000, 4_000, 0.24, 0.5, -3);
    const [, , , , memory] = checkTargets(r, r.paths.isthmusImage);
    expect(memory?.met).toBe(false);
    const text = renderGatewaySection(r);
    expect(text).toContain('| 999 | n/a (RSS fell) |'.replace('999', '1,000'));
    expect(text).toContain('| memory per idle tunnel (KiB) | 12.0 | ≤ 45 | ~45 | ✓ | n/a ? |');
  });
});
