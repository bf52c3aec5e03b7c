import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { mirrorMetrics } from './metrics.js';
import { type GatewayAlive, nextProbeState, type ProbeState, ProbeWorker } from './probe-worker.js';
import { waitFor } from './test-wait.js';

describe('nextProbeState', () => {
  const s = (alive: GatewayAlive, failures = 0): ProbeState => ({ alive, failures });
  it.each<[string, ProbeState, boolean, ProbeState]>([
    ['unknown + success → alive', s('unknown'), true, s(true)],
    ['unknown + failure stays unknown below threshold', s('unknown'), false, s('unknown', 1)],
    ['unknown dies at threshold', s('unknown', 2), false, s(false, 3)],
    ['alive + failure stays alive below threshold', s(true), false, s(true, 1)],
    ['alive dies at threshold', s(true, 2), false, s(false, 3)],
    ['dead + success → alive at once', s(false, 7), true, s(true)],
  ])('%s', (_n, state, success, next) => expect(nextProbeState(state, success, 3)).toEqual(next));
});

describe('ProbeWorker', () => {
  let server: Server | undefined;
  let worker: ProbeWorker | undefined;
  afterEach(async () => {
    worker?.stop();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = undefined;
  });

  it('follows the admin /probe answer and publishes metrics', async () => {
    let alive = true;
    const queries: string[] = [];
    server = createServer((req, res) => {
      queries.push(req.url ?? '');
      res.writeHead(alive ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(alive ? { alive, latencyMs: 3 } : { alive, error: 'refused' }));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const registry = new Registry();
    const changes: GatewayAlive[] = [];
    worker = new ProbeWorker({
      cluster: 'west',
      adminUrl: `http://127.0.0.1:${port}`,
      target: () => '10.1.0.1:4143',
      path: '/ready',
      periodMs: 20,
      timeoutMs: 500,
      failureThreshold: 2,
      metrics: mirrorMetrics(registry),
      onChange: (a) => changes.push(a),
    });
    worker.start();
    await waitFor(() => worker!.alive === true);
    expect(queries[0]).toBe('/probe?gateway=10.1.0.1%3A4143&cluster=west&path=%2Fready&timeoutMs=500');
    alive = false;
    await waitFor(() => worker!.alive === false);
    expect(worker.lastError).toBe('refused');
    alive = true;
    await waitFor(() => worker!.alive === true);
    expect(changes).toEqual([true, false, true]);
    const text = await registry.metrics();
    expect(text).toMatch(/gateway_alive\{target_cluster_name="west"\} 1/);
    expect(text).toMatch(/gateway_probes_total\{target_cluster_name="west",result="failure"\} [2-9]/);
  });

  it('an unreachable admin server counts as a failed probe', async () => {
    server = createServer();
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise((r) => server!.close(r));
    server = undefined;
    worker = new ProbeWorker({
      cluster: 'west',
      adminUrl: `http://127.0.0.1:${port}`,
      target: () => '10.1.0.1:4143',
      path: '/ready',
      periodMs: 10,
      timeoutMs: 200,
      failureThreshold: 2,
      metrics: mirrorMetrics(new Registry()),
      onChange: () => {},
    });
    worker.start();
    await waitFor(() => worker!.alive === false);
  });
});
