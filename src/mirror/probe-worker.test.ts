import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { mirrorMetrics } from './metrics.js';
import {
  type GatewayAlive,
  nextProbeState,
  nextVia,
  type ProbeState,
  ProbeWorker,
  type ViaState,
} from './probe-worker.js';
import { metricValue } from './test-harness.js';
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

describe('nextVia: where the remote answers, as said', () => {
  const B = '10.1.0.2:4143';
  const ok = (via?: string) => ({ success: true, ...(via === undefined ? {} : { via }) });
  it.each<[string, ViaState, { success: boolean; via?: string }, boolean, ViaState]>([
    [
      'the same again: nothing pending',
      { via: B, pending: { via: undefined, seen: 2 } },
      ok(B),
      false,
      { via: B },
    ],
    [
      'a new one, once: pending',
      { via: undefined },
      ok(B),
      false,
      { via: undefined, pending: { via: B, seen: 1 } },
    ],
    [
      'a new one, twice in a row: still pending',
      { via: undefined, pending: { via: B, seen: 1 } },
      ok(B),
      false,
      { via: undefined, pending: { via: B, seen: 2 } },
    ],
    [
      'a new one, the third time in a row: taken',
      { via: undefined, pending: { via: B, seen: 2 } },
      ok(B),
      false,
      { via: B },
    ],
    [
      'back to the address probed, once: pending',
      { via: B },
      ok(),
      false,
      { via: B, pending: { via: undefined, seen: 1 } },
    ],
    [
      'alternating replicas: the count starts over',
      { via: B, pending: { via: undefined, seen: 1 } },
      ok(B),
      false,
      { via: B },
    ],
    [
      'a failure keeps what was said, and the confirmation under way',
      { via: B, pending: { via: undefined, seen: 2 } },
      { success: false },
      false,
      { via: B, pending: { via: undefined, seen: 2 } },
    ],
    [
      'a failure between two that say the new one: counted on, taken the third time',
      { via: undefined, pending: { via: B, seen: 2 } },
      ok(B),
      false,
      { via: B },
    ],
    ['a failure with nothing under way: nothing pending', { via: B }, { success: false }, false, { via: B }],
    [
      'just alive again: taken at once (the status is written anyway)',
      { via: undefined },
      ok(B),
      true,
      { via: B },
    ],
  ])('%s', (_name, state, result, becameAlive, expected) => {
    expect(nextVia(state, result, becameAlive)).toEqual(expected);
  });

  /** `via` after probes answering in turn (undefined: the address probed; null: a failed probe). */
  const viaAfter = (
    answers: (string | undefined | null)[],
    start: ViaState = { via: undefined },
  ): ViaState => {
    let via = start;
    let state: ProbeState = { alive: true, failures: 0 };
    for (const answer of answers) {
      const before = state.alive;
      state = nextProbeState(state, answer !== null, 3);
      const result = answer === null ? { success: false } : ok(answer);
      via = nextVia(via, result, state.alive === true && before !== true);
    }
    return via;
  };

  it('a move is said though one probe in three fails (a replica without a path to the remote)', () => {
    expect(viaAfter([B, B, null, B]).via).toBe(B);
    expect(viaAfter(Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? null : B))).via).toBe(B);
  });

  it('replicas that disagree never flip it, failures between them or not', () => {
    const disagreeing = Array.from({ length: 30 }, (_, i) => [B, null, undefined][i % 3]!);
    expect(viaAfter(disagreeing).via).toBeUndefined();
    expect(
      viaAfter(
        disagreeing.map((a) => (a === undefined ? B : a === B ? undefined : a)),
        { via: B },
      ).via,
    ).toBe(B);
  });
});

/** A worker's options for west's gateway, probed through the admin server on `port`. */
function probing(port: number, periodMs: number, timeoutMs: number) {
  return {
    cluster: 'west',
    adminUrl: `http://127.0.0.1:${port}`,
    target: () => '10.1.0.1:4143',
    path: '/ready',
    periodMs,
    timeoutMs,
    failureThreshold: 2,
    onChange: () => {},
  };
}

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

  it('says when the remote gateway answers at another address than the one probed, once per change', async () => {
    let via: string | undefined = '10.1.0.2:4143';
    let alive = true;
    server = createServer((_req, res) => {
      res.writeHead(alive ? 200 : 503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(alive ? { alive, latencyMs: 3, ...(via ? { via } : {}) } : { alive, error: 'x' }),
      );
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const told: Array<[string | undefined, string | undefined]> = [];
    const answers: number[] = [];
    worker = new ProbeWorker({
      ...probing(port, 10, 500),
      metrics: mirrorMetrics(new Registry()),
      onProbe: () => answers.push(answers.length),
      onVia: (now, before) => told.push([now, before]),
    });
    worker.start();
    await waitFor(() => worker!.via === '10.1.0.2:4143');
    // A failure keeps where it last answered.
    alive = false;
    const failedFrom = answers.length;
    await waitFor(() => answers.length > failedFrom + 1);
    expect(worker.via).toBe('10.1.0.2:4143');
    alive = true;
    via = undefined;
    await waitFor(() => worker!.via === undefined);
    expect(told).toEqual([
      ['10.1.0.2:4143', undefined],
      [undefined, '10.1.0.2:4143'],
    ]);
  });

  it('says no change of where the remote answers while gateway replicas that disagree alternate (at most one)', async () => {
    // The admin Service balances the probes over the gateway replicas: one says via, one does not.
    let n = 0;
    let agreed: string | undefined;
    server = createServer((_req, res) => {
      const via = agreed ?? (n++ % 2 === 0 ? '10.1.0.2:4143' : undefined);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ alive: true, latencyMs: 3, ...(via ? { via } : {}) }));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const told: Array<string | undefined> = [];
    let answers = 0;
    worker = new ProbeWorker({
      ...probing(port, 5, 500),
      metrics: mirrorMetrics(new Registry()),
      onProbe: () => answers++,
      onVia: (now) => told.push(now),
    });
    worker.start();
    await waitFor(() => answers >= 12);
    expect(told.length).toBeLessThanOrEqual(1);
    // Once they agree (the remote's state did change), it is said, once.
    const before = told.length;
    agreed = '10.1.0.3:4143';
    await waitFor(() => worker!.via === agreed);
    const at = answers;
    await waitFor(() => answers >= at + 6);
    expect(told.slice(before)).toEqual(['10.1.0.3:4143']);
  });

  it("exports the remote gateway's version as an info series, one at a time, gone once stopped", async () => {
    let version: unknown = '0.1.0';
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ alive: true, latencyMs: 1, version }));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const registry = new Registry();
    worker = new ProbeWorker({
      ...probing((server.address() as AddressInfo).port, 20, 500),
      metrics: mirrorMetrics(registry),
    });
    const info = async () =>
      ((await registry.metrics()).match(/^isthmus_remote_gateway_info\{.*$/gm) ?? []).join('\n');
    worker.start();
    await waitFor(
      async () =>
        (await info()) === 'isthmus_remote_gateway_info{target_cluster_name="west",version="0.1.0"} 1',
    );
    // The remote gateway upgraded: the old series goes with the new one's arrival.
    version = '0.2.0';
    await waitFor(
      async () =>
        (await info()) === 'isthmus_remote_gateway_info{target_cluster_name="west",version="0.2.0"} 1',
    );
    // A version that is no plausible one (a header forged into a label) is not exported.
    version = 'x'.repeat(200);
    await waitFor(async () => (await info()) === '');
    version = '0.2.0';
    await waitFor(async () => (await info()) !== '');
    worker.stop();
    expect(await info()).toBe('');
  });

  // The probe goes through this cluster's gateway: when it cannot probe, every remote looked dead.
  it('a local gateway that answers it cannot probe blames no remote: liveness and gateway_alive stay', async () => {
    let answer: 'alive' | 'unable' | 'starting' | 'dead' = 'alive';
    server = createServer((_req, res) => {
      const body = {
        alive: { alive: true, latencyMs: 1 },
        unable: { alive: false, latencyMs: 0, error: 'certificates not loaded', failure: 'local' },
        starting: { alive: false, latencyMs: 0, error: 'watchers not synced', failure: 'local' },
        dead: { alive: false, latencyMs: 500, error: 'no answer within 500 ms', failure: 'remote' },
      }[answer];
      res.writeHead(answer === 'alive' ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const registry = new Registry();
    const changes: GatewayAlive[] = [];
    const local: [string | undefined, string | undefined][] = [];
    worker = new ProbeWorker({
      ...probing((server.address() as AddressInfo).port, 20, 500),
      metrics: mirrorMetrics(registry),
      onChange: (a) => changes.push(a),
      onLocalGateway: (error, before) => local.push([error, before]),
    });
    const value = (name: string, labels: Record<string, string> = {}) =>
      metricValue(registry, name, { target_cluster_name: 'west', ...labels });
    worker.start();
    await waitFor(() => worker!.alive === true);
    expect(await value('isthmus_local_gateway_up')).toBe(1);

    answer = 'unable';
    // Well past failureThreshold (2): none of these counts against the remote.
    await waitFor(async () => ((await value('gateway_probes_total', { result: 'local_failure' })) ?? 0) >= 4);
    expect(worker.alive).toBe(true);
    expect(worker.localError).toBe("this cluster's gateway cannot probe: certificates not loaded");
    expect(await value('gateway_alive')).toBe(1);
    expect(await value('isthmus_local_gateway_up')).toBe(0);
    expect(await value('gateway_probes_total', { result: 'failure' })).toBeUndefined();
    // Another reason on this side (a rollout): told with the one before, so the log warns once.
    answer = 'starting';
    await waitFor(() => worker!.localError?.endsWith('watchers not synced') === true);

    // Back, and the remote is dead now: that is the remote's, counted from its first failure.
    answer = 'dead';
    await waitFor(() => worker!.alive === false);
    expect(worker.localError).toBeUndefined();
    expect(worker.lastError).toBe('no answer within 500 ms');
    expect(await value('isthmus_local_gateway_up')).toBe(1);
    expect(await value('gateway_alive')).toBe(0);
    expect(changes).toEqual([true, false]);
    const unable = "this cluster's gateway cannot probe: certificates not loaded";
    const starting = "this cluster's gateway cannot probe: watchers not synced";
    expect(local).toEqual([
      [unable, undefined],
      [starting, unable],
      [undefined, starting],
    ]);
  });

  it('an admin server that refuses connections is a failure on this side, not a dead remote', async () => {
    server = createServer();
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise((r) => server!.close(r));
    server = undefined;
    const registry = new Registry();
    const changes: GatewayAlive[] = [];
    worker = new ProbeWorker({
      ...probing(port, 10, 200),
      metrics: mirrorMetrics(registry),
      onChange: (a) => changes.push(a),
    });
    const value = (name: string, labels: Record<string, string> = {}) =>
      metricValue(registry, name, { target_cluster_name: 'west', ...labels });
    worker.start();
    await waitFor(async () => ((await value('gateway_probes_total', { result: 'local_failure' })) ?? 0) >= 4);
    expect(worker.alive).toBe('unknown');
    expect(changes).toEqual([]);
    expect(worker.localError).toMatch(
      new RegExp(
        `^this cluster's gateway admin \\(http://127\\.0\\.0\\.1:${port}\\) did not answer: .*ECONNREFUSED`,
      ),
    );
    expect(await value('gateway_alive')).toBeUndefined();
    expect(await value('isthmus_local_gateway_up')).toBe(0);
    // A Link gone (or left without a gateway) leaves no series to alert on.
    worker.stop();
    expect(await value('isthmus_local_gateway_up')).toBeUndefined();
    expect(worker.localError).toBeUndefined();
  });
});

/**
 * A stub of the admin /probe whose answer is per remote gateway (`dead`), and which can hold the
 * answers for some gateways (`hold`) until released: a probe in flight, on demand.
 */
class PerGatewayStub {
  readonly dead = new Set<string>();
  readonly hold = new Set<string>();
  readonly seen: string[] = [];
  private held: (() => void)[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const gateway = `${q.get('gateway')}${q.get('path')}`;
      this.seen.push(gateway);
      const answer = () => {
        const alive = !this.dead.has(gateway);
        if (res.destroyed) return;
        res.writeHead(alive ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify(alive ? { alive, latencyMs: 1 } : { alive, error: `${gateway} dead` }));
      };
      if (this.hold.has(gateway)) this.held.push(answer);
      else answer();
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  release(): void {
    this.hold.clear();
    for (const answer of this.held.splice(0)) answer();
  }

  count(gateway: string): number {
    return this.seen.filter((g) => g === gateway).length;
  }

  async close(): Promise<void> {
    this.release();
    this.server?.closeAllConnections();
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
  }
}

describe('ProbeWorker when what it probes changes (Link edited, remote gateway moved)', () => {
  let stub: PerGatewayStub;
  let worker: ProbeWorker | undefined;
  afterEach(async () => {
    worker?.stop();
    worker = undefined;
    await stub.close();
  });

  async function startWorker(over: Partial<ConstructorParameters<typeof ProbeWorker>[0]> = {}) {
    stub = new PerGatewayStub();
    await stub.start();
    const changes: GatewayAlive[] = [];
    let target = '10.1.0.1:4143';
    worker = new ProbeWorker({
      cluster: 'west',
      adminUrl: stub.url,
      target: () => target,
      path: '/ready',
      // Long: any probe seen in these tests was asked for, not the period's.
      periodMs: 60_000,
      timeoutMs: 2_000,
      failureThreshold: 3,
      metrics: mirrorMetrics(new Registry()),
      onChange: (a) => changes.push(a),
      ...over,
    });
    return { changes, setTarget: (t: string) => (target = t) };
  }

  it('a new address is not alive for the old one having answered: it starts over, probed at once', async () => {
    const { changes, setTarget } = await startWorker();
    worker!.start();
    await waitFor(() => worker!.alive === true, { what: 'old address alive' });
    stub.dead.add('10.1.0.2:4143/ready');
    setTarget('10.1.0.2:4143');
    worker!.trigger();
    // Not alive: nothing has answered at the new address. Unknown until it answers or fails
    // failureThreshold times (as at start-up), not alive on the old address's word.
    expect(worker!.alive).toBe('unknown');
    await waitFor(() => stub.count('10.1.0.2:4143/ready') === 1, { what: 'new address probed' });
    await waitFor(() => worker!.lastError !== undefined, { what: 'its failure recorded' });
    expect(worker!.alive).toBe('unknown');
    expect(changes).toEqual([true, 'unknown']);
  });

  it('a new path starts over too, and is probed at once', async () => {
    const { changes } = await startWorker();
    worker!.start();
    await waitFor(() => worker!.alive === true, { what: 'alive on /ready' });
    stub.dead.add('10.1.0.1:4143/healthz');
    worker!.update({ path: '/healthz' });
    expect(worker!.alive).toBe('unknown');
    await waitFor(() => stub.count('10.1.0.1:4143/healthz') === 1, { what: 'new path probed' });
    expect(changes).toEqual([true, 'unknown']);
  });

  it('a probe in flight for the old address is not credited to the new one', async () => {
    const { changes, setTarget } = await startWorker({ failureThreshold: 2 });
    stub.hold.add('10.1.0.1:4143/ready');
    worker!.start();
    await waitFor(() => stub.count('10.1.0.1:4143/ready') === 1, { what: 'old address probe in flight' });
    stub.dead.add('10.1.0.2:4143/ready');
    setTarget('10.1.0.2:4143');
    worker!.trigger();
    // The new address is probed without waiting for the old probe's answer (up to its timeout).
    await waitFor(() => stub.count('10.1.0.2:4143/ready') === 1, {
      timeoutMs: 1_000,
      what: 'new address probed at once',
    });
    stub.release(); // the old address answers "alive", too late
    await waitFor(() => worker!.lastError !== undefined, { what: 'the new address failed once' });
    worker!.trigger();
    await waitFor(() => worker!.alive === false, { what: 'new address dead' });
    expect(changes).toEqual([false]);
  });

  it('the same address again (the preferred one unchanged) keeps what is known', async () => {
    const { changes, setTarget } = await startWorker();
    worker!.start();
    await waitFor(() => worker!.alive === true);
    setTarget('10.1.0.1:4143');
    worker!.update({ path: '/ready', timeoutMs: 1_000 });
    worker!.trigger();
    expect(worker!.alive).toBe(true);
    expect(changes).toEqual([true]);
  });

  it('a lowered failureThreshold applies to the failures already counted', async () => {
    let failed = 0;
    const { changes } = await startWorker({
      failureThreshold: 5,
      onProbe: (result) => {
        if (!result.success) failed++;
      },
    });
    worker!.start();
    await waitFor(() => worker!.alive === true);
    stub.dead.add('10.1.0.1:4143/ready');
    for (let i = 1; i <= 2; i++) {
      worker!.trigger();
      await waitFor(() => stub.count('10.1.0.1:4143/ready') === i + 1);
    }
    // Both answers handled (counted), not only asked for.
    await waitFor(() => failed === 2, { what: 'two failed probes counted' });
    expect(worker!.lastError).toBeDefined();
    expect(worker!.alive).toBe(true); // 2 failures of 5
    worker!.update({ failureThreshold: 2 });
    expect(worker!.alive).toBe(false);
    expect(changes).toEqual([true, false]);
  });

  it('a new period applies at once, not when the old one ends', async () => {
    await startWorker();
    worker!.start();
    await waitFor(() => worker!.alive === true);
    const before = stub.seen.length;
    worker!.update({ periodMs: 20 });
    await waitFor(() => stub.seen.length >= before + 3, { timeoutMs: 2_000, what: 'probes every 20 ms' });
  });

  it('a worker stopped and started again (gateway removed, then back) starts unknown', async () => {
    await startWorker();
    worker!.start();
    await waitFor(() => worker!.alive === true);
    worker!.stop();
    stub.hold.add('10.1.0.1:4143/ready');
    worker!.start();
    expect(worker!.alive).toBe('unknown');
  });
});
