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
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeBenchCerts } from './lib/certs.js';
import { percentile, runFixedRate } from './lib/h2load.js';
import { startHaproxyPair } from './lib/haproxy.js';
import { startIsthmusPair } from './lib/isthmus-pair.js';
import { startNginx } from './lib/nginx.js';
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

const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: bench\r\n\r\n');

/** Sequential requests over one keep-alive connection; per-request latency in µs, sorted. */
async function closedLoop(host: string, port: number, n: number, gapMs = 0): Promise<number[]> {
  const socket = net.connect({ host, port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const out: number[] = [];
  try {
    for (let i = 0; i < n + 200; i++) {
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      const t0 = process.hrtime.bigint();
      await new Promise<void>((resolve, reject) => {
        let got = '';
        const onData = (chunk: Buffer): void => {
          got += chunk.toString('latin1');
          // nginx's answer: headers + 17-byte body with Content-Length; done when the body is in.
          const end = got.indexOf('\r\n\r\n');
          if (end >= 0 && got.length >= end + 4 + 17) {
            socket.off('data', onData);
            socket.off('error', reject);
            resolve();
          }
        };
        socket.on('data', onData);
        socket.once('error', reject);
        socket.write(REQUEST);
      });
      if (i >= 200) out.push(Number(process.hrtime.bigint() - t0) / 1_000);
    }
  } finally {
    socket.destroy();
  }
  return out.sort((a, b) => a - b);
}

/** utime + stime of a process in clock ticks (USER_HZ, 100 on Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const fmt = (us: number): string => (us / 1_000).toFixed(3);

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
        await closedLoop(pair.egress.host, pair.egress.port, 10);
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
      const cpuBefore = t.pids.map(cpuTicks);
      const loop = await closedLoop(t.host, t.port, Number(flags.loop));
      // CPU per request of each proxy process: independent of how busy the rest of the machine is.
      const cpuUs = t.pids.map((pid, i) =>
        (((cpuTicks(pid) - cpuBefore[i]!) * 10_000) / loop.length).toFixed(1),
      );
      console.log(
        `${name.padEnd(8)} closed loop: p50 ${fmt(percentile(loop, 50))} p90 ${fmt(percentile(loop, 90))} p99 ${fmt(percentile(loop, 99))} ms; CPU µs/request ${cpuUs.join(' + ') || '-'}`,
      );
      if (Number(flags['gap-ms']) > 0) {
        const gap = await closedLoop(t.host, t.port, Number(flags['gap-n']), Number(flags['gap-ms']));
        console.log(
          `${name.padEnd(8)} ${flags['gap-ms']} ms gaps:  p50 ${fmt(percentile(gap, 50))} p90 ${fmt(percentile(gap, 90))} p99 ${fmt(percentile(gap, 99))} ms`,
        );
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
        console.log(lines.slice(-3).join('\n'));
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
