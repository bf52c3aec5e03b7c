/**
 * `node --import tsx bench/wakeup-cost.ts`: what this machine charges for waking an idle process,
 * the cost under every "requests spread out" number in docs/benchmarks.md. Two plain Node
 * processes over loopback TCP (no TLS, no HTTP) echo 200 bytes: back to back, both stay awake;
 * with a gap between messages, the peer is asleep in epoll each time and the sender's write must
 * wake it. Prints per message the sender's time inside write(), its CPU (user + system) and the
 * round trip, for each gap. Nothing here is Isthmus code: it is the floor that a chain of
 * processes (client → gateway → gateway → backend, or controller → API server) pays per hop.
 *
 * Flags: --gaps 0,2,20 (ms), --n 1000 (messages per gap; a tenth for gaps ≥ 10 ms).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    gaps: { type: 'string', default: '0,2,20,0,20' },
    n: { type: 'string', default: '1000' },
    child: { type: 'boolean', default: false },
  },
});

if (values.child) {
  // The echo peer.
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on('data', (d) => s.write(d));
  });
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address() as net.AddressInfo;
    process.send?.(addr.port);
  });
  process.on('disconnect', () => process.exit(0));
} else {
  const child = fork(import.meta.filename, ['--child'], { execArgv: ['--import', 'tsx'] });
  const [port] = (await once(child, 'message')) as [number];
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  await once(sock, 'connect');
  const message = Buffer.alloc(200, 'x');
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const measure = async (gapMs: number, n: number) => {
    let inWrite = 0n;
    const rtts: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      if (gapMs > 0) await sleep(gapMs);
      const echoed = once(sock, 'data');
      const t0 = process.hrtime.bigint();
      sock.write(message);
      inWrite += process.hrtime.bigint() - t0;
      // Every wait has a deadline: a lost peer fails the run instead of hanging it.
      await Promise.race([
        echoed,
        sleep(5000).then(() => Promise.reject(new Error('echo peer silent for 5 s'))),
      ]);
      rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    const cpu = process.cpuUsage(cpu0);
    rtts.sort((a, b) => a - b);
    const us = (x: number) => `${x.toFixed(0).padStart(5)} µs`;
    console.log(
      `gap ${String(gapMs).padStart(3)} ms: write() ${us(Number(inWrite) / n / 1000)}, sender CPU ${us((cpu.user + cpu.system) / n)}/message, round trip p50 ${us(rtts[n >> 1]!)} p99 ${us(rtts[Math.floor(n * 0.99)]!)}`,
    );
  };

  const n = Number(values.n);
  for (const gap of values.gaps.split(',').map(Number)) await measure(gap, gap >= 10 ? Math.ceil(n / 10) : n);
  sock.destroy();
  child.disconnect();
}
