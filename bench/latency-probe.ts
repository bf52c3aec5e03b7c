/**
 * `node --import tsx bench/latency-probe.ts`: the latency part of bench:gateway alone, for quick
 * before/after comparisons while tuning the gateway (nginx + the Isthmus pair from dist/, plus the
 * haproxy pair with --haproxy). Two measurements per path:
 * - h2load at a fixed rate, as bench:gateway does (10 processes of 100 req/s);
 * - a closed loop in this process: one keep-alive connection, one request at a time, N requests;
 *   no timer in the way, so it shows the path's own latency without the load generator's.
 *
 * Flags: --node-args "<flags for both gateways>", --rate-sec N, --loop N, --haproxy, --skip-rate.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeBenchCerts } from './lib/certs.js';
import { type ClosedLoopResult, runClosedLoop } from './lib/closed-loop.js';
import { percentile, runFixedRate } from './lib/h2load.js';
import { startHaproxyPair } from './lib/haproxy.js';
import { startIsthmusPair } from './lib/isthmus-pair.js';
import { BACKEND_BODY, startNginx } from './lib/nginx.js';
import { stopAll } from './lib/procs.js';
import { freePort } from './lib/sockets.js';
import { machine } from './lib/tools.js';
import { runWrk } from './lib/wrk.js';

const { values: flags } = parseArgs({
  options: {
    'node-args': { type: 'string', default: '' },
    'rate-sec': { type: 'string', default: '10' },
    loop: { type: 'string', default: '5000' },
    haproxy: { type: 'boolean', default: false },
    'skip-rate': { type: 'boolean', default: false },
    'show-gc': { type: 'boolean', default: false },
    'gap-ms': { type: 'string', default: '0' },
    'gap-n': { type: 'string', default: '2000' },
    'wrk-sec': { type: 'string', default: '0' },
  },
});

const BODY_BYTES = Buffer.byteLength(BACKEND_BODY);
const fmt = (ms: number): string => ms.toFixed(3);
const loopLine = (r: ClosedLoopResult): string =>
  `p50 ${fmt(r.p50Ms)} p90 ${fmt(r.p90Ms)} p99 ${fmt(r.p99Ms)} ms`;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'isthmus-latency-'));
  try {
    console.log(`load ${machine().loadavg}; gateway node args: ${flags['node-args'] || '(none)'}`);
    const certs = await writeBenchCerts(dir);
    const nginxHost = '127.0.63.1';
    const backend = { host: nginxHost, port: await freePort(nginxHost) };
    await startNginx({ ...backend, dir });
    const pair = await startIsthmusPair({
      dir,
      certs,
      eastHost: '127.0.61.1',
      westHost: '127.0.62.1',
      backend,
      nodeArgs: (flags['node-args'] ?? '').split(' ').filter((a) => a !== ''),
    });
    const targets: Array<[string, { host: string; port: number; pids: number[] }]> = [
      ['direct', { ...backend, pids: [] }],
      ['isthmus', { ...pair.egress, pids: [pair.east.child.pid!, pair.west.child.pid!] }],
    ];
    if (flags.haproxy) {
      const east = { host: '127.0.61.2', port: await freePort('127.0.61.2') };
      const west = { host: '127.0.62.2', port: await freePort('127.0.62.2') };
      const haproxy = await startHaproxyPair({
        dir,
        caFile: certs.caFile,
        east: { ...east, pemFile: certs.east.pemFile },
        west: { ...west, pemFile: certs.west.pemFile },
        backend,
      });
      targets.push(['haproxy', { ...east, pids: [haproxy.east.child.pid!, haproxy.west.child.pid!] }]);
    }
    // The mirror's egress listener opens shortly after the pair is up.
    for (let deadline = Date.now() + 20_000; ; ) {
      try {
        await runClosedLoop({ ...pair.egress, bodyBytes: BODY_BYTES, requests: 10, warmup: 0 });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const rssMiB = (pid: number | undefined): string => {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return (Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024).toFixed(1);
    };
    console.log(`idle RSS MiB: east ${rssMiB(pair.east.child.pid)}, west ${rssMiB(pair.west.child.pid)}`);
    for (const [name, t] of targets) {
      if (Number(flags['wrk-sec']) > 0) {
        const wrk = { url: `http://${t.host}:${t.port}/`, threads: 2, connections: 64 };
        await runWrk({ ...wrk, durationSec: 2 });
        const ka = await runWrk({ ...wrk, durationSec: Number(flags['wrk-sec']) });
        const nc = await runWrk({
          ...wrk,
          connections: 32,
          durationSec: Number(flags['wrk-sec']),
          close: true,
        });
        console.log(
          `${name.padEnd(8)} keep-alive ${Math.round(ka.requestsPerSec)} req/s, new connections ${Math.round(nc.requestsPerSec)}/s`,
        );
      }
      const loop = await runClosedLoop({ ...t, bodyBytes: BODY_BYTES, requests: Number(flags.loop) });
      const cpu = loop.cpuUsPerRequest.map((us) => us.toFixed(1)).join(' + ') || '-';
      console.log(`${name.padEnd(8)} closed loop: ${loopLine(loop)}; CPU µs/request ${cpu}`);
      if (Number(flags['gap-ms']) > 0) {
        const gapMs = Number(flags['gap-ms']);
        const gap = await runClosedLoop({
          ...t,
          bodyBytes: BODY_BYTES,
          requests: Number(flags['gap-n']),
          gapMs,
        });
        console.log(`${name.padEnd(8)} ${gapMs} ms gaps:  ${loopLine(gap)}`);
      }
      if (flags['skip-rate']) continue;
      const r = await runFixedRate({
        url: `http://${t.host}:${t.port}/`,
        dir,
        rate: 1_000,
        runs: 10,
        durationSec: Number(flags['rate-sec']),
        warmupMs: 1_000,
      });
      console.log(
        `${name.padEnd(8)} 1000 req/s:  p50 ${r.p50Ms.toFixed(3)} p99 ${r.p99Ms.toFixed(3)} max ${r.maxMs.toFixed(1)} ms (${r.errors} errors)`,
      );
    }
    console.log(`loaded RSS MiB: east ${rssMiB(pair.east.child.pid)}, west ${rssMiB(pair.west.child.pid)}`);
    for (const url of pair.admin) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const pick = text
        .split('\n')
        .filter((l) =>
          /^nodejs_eventloop_lag_(p50|p99|max)_seconds|^nodejs_gc_duration_seconds_(count|sum)/.test(l),
        );
      console.log(`${url}: ${pick.join('; ')}`);
    }
    if (flags['show-gc']) {
      for (const proc of [pair.east, pair.west]) {
        const lines = proc
          .output()
          .split('\n')
          .filter((l) => /Scavenge|Mark-Compact|Mark-sweep/.test(l));
        const pauses = lines
          .map((l) => Number(/, ([\d.]+) \/ [\d.]+ ms/.exec(l)?.[1] ?? 0))
          .sort((a, b) => a - b);
        console.log(
          `${proc.name}: ${lines.length} GCs, pauses p50 ${percentile(pauses, 50)} max ${pauses.at(-1)} ms`,
        );
        // The long ones are what a tail is made of: print every pause over 2 ms, with its kind.
        for (const l of lines)
          if (Number(/, ([\d.]+) \/ [\d.]+ ms/.exec(l)?.[1] ?? 0) > 2) console.log(l.trim());
      }
    }
    await pair.stop();
  } finally {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
