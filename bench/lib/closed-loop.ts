/**
 * Latency without a load generator's timer in the way: one keep-alive connection, one request at
 * a time, the next sent as soon as the answer is complete. Every process on the path is awake, so
 * this is the path's own cost, and the CPU time each proxy process spends per request (all its
 * threads, from schedstat in ns) is a figure that other jobs on the machine inflate far less than
 * latency.
 */
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { percentile } from './h2load.js';

const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: bench\r\n\r\n');

export interface ClosedLoopResult {
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** CPU time (user + system) per request of each process in `pids`, in µs. */
  cpuUsPerRequest: number[];
}

export interface ClosedLoopOptions {
  host: string;
  port: number;
  /** Answer body length (nginx's fixed body): a response is complete when that many body bytes are in. */
  bodyBytes: number;
  requests: number;
  /** Proxy processes whose CPU time is measured over the loop. */
  pids?: number[];
  /** Sent first and not counted. Default 200. */
  warmup?: number;
  /** Pause before each request (ms); 0 = back to back. */
  gapMs?: number;
}

export async function runClosedLoop(o: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const socket = net.connect({ host: o.host, port: o.port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const warmup = o.warmup ?? 200;
  const pids = o.pids ?? [];
  const latenciesUs: number[] = [];
  let cpuBefore: number[] = [];
  try {
    for (let i = 0; i < warmup + o.requests; i++) {
      if (i === warmup) cpuBefore = pids.map(cpuNs);
      if (o.gapMs) await new Promise((r) => setTimeout(r, o.gapMs));
      const t0 = process.hrtime.bigint();
      await exchange(socket, o.bodyBytes);
      if (i >= warmup) latenciesUs.push(Number(process.hrtime.bigint() - t0) / 1_000);
    }
  } finally {
    socket.destroy();
  }
  const cpuUsPerRequest = pids.map((pid, i) => (cpuNs(pid) - cpuBefore[i]!) / 1_000 / o.requests);
  const sorted = latenciesUs.sort((a, b) => a - b);
  return {
    requests: sorted.length,
    p50Ms: percentile(sorted, 50) / 1_000,
    p90Ms: percentile(sorted, 90) / 1_000,
    p99Ms: percentile(sorted, 99) / 1_000,
    cpuUsPerRequest,
  };
}

/** No answer within this: the path is stuck, and the loop fails rather than hang. */
const EXCHANGE_DEADLINE_MS = 10_000;

/** One request, resolved when the whole answer (headers + `bodyBytes`) is in. */
function exchange(socket: net.Socket, bodyBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(
      () => done(new Error(`no complete answer within ${EXCHANGE_DEADLINE_MS} ms (got ${got.length} bytes)`)),
      EXCHANGE_DEADLINE_MS,
    );
    const done = (err?: Error): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', done);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onData = (chunk: Buffer): void => {
      got += chunk.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end >= 0 && got.length >= end + 4 + bodyBytes) done();
    };
    const onClose = (): void => done(new Error('connection closed mid-answer'));
    socket.on('data', onData);
    socket.once('error', done);
    socket.once('close', onClose);
    socket.write(REQUEST);
  });
}

/** CPU time of a process so far, in ns: the sum over its threads of /proc/<pid>/task/<tid>/schedstat's first field. */
export function cpuNs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread exited between the listing and the read.
    }
  }
  return ns;
}
