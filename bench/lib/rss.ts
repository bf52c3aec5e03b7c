/**
 * Memory per idle tunnel: RSS of the proxy processes (from /proc) before and after holding
 * `count` keep-alive connections open through them to the backend, each of which has carried one
 * request (so the whole path — and, for Isthmus, the CONNECT stream — exists), then sits idle.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';

/** Resident set size of `pid` in KiB (VmRSS of /proc/<pid>/status). */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export async function totalRssKiB(pids: readonly number[]): Promise<number> {
  let sum = 0;
  for (const pid of pids) sum += await rssKiB(pid);
  return sum;
}

/**
 * Samples until three consecutive readings agree within 1% (deadline `timeoutMs`): memory settles
 * a little after the last connection opens (lazy buffers, the allocator returning pages).
 */
export async function settledRssKiB(pids: readonly number[], timeoutMs = 5_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const readings: number[] = [];
  for (;;) {
    readings.push(await totalRssKiB(pids));
    const last = readings.slice(-3);
    if (last.length === 3 && Math.max(...last) - Math.min(...last) <= Math.max(...last) * 0.01) {
      return last[2]!;
    }
    if (Date.now() > deadline) return readings.at(-1)!;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const REQUEST = 'GET / HTTP/1.1\r\nHost: bench\r\n\r\n';

/** One connection that has carried one request and now sits idle; rejects on error or timeout. */
function openIdle(host: string, port: number, expect: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let seen = '';
    const timer = setTimeout(
      () => fail(new Error(`no response on an idle tunnel after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.once('connect', () => socket.write(REQUEST));
    socket.on('data', function onData(chunk: Buffer) {
      seen += chunk.toString();
      if (!seen.includes(expect)) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      // Errors after this (e.g. the proxy stopping at the end) are expected; keep them quiet.
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}

export interface IdleTunnels {
  sockets: net.Socket[];
  close(): void;
}

/** Opens `count` idle connections, `concurrency` at a time (bounded, each with its own deadline). */
export async function openIdleTunnels(opts: {
  host: string;
  port: number;
  count: number;
  expect: string;
  concurrency?: number;
  timeoutMs?: number;
}): Promise<IdleTunnels> {
  const sockets: net.Socket[] = [];
  const close = (): void => {
    for (const s of sockets) s.destroy();
  };
  const concurrency = opts.concurrency ?? 50;
  try {
    for (let i = 0; i < opts.count; i += concurrency) {
      const batch = Math.min(concurrency, opts.count - i);
      const opened = await Promise.all(
        Array.from({ length: batch }, () =>
          openIdle(opts.host, opts.port, opts.expect, opts.timeoutMs ?? 10_000),
        ),
      );
      sockets.push(...opened);
    }
  } catch (err) {
    close();
    throw err;
  }
  return { sockets, close };
}

export interface IdleMemory {
  beforeKiB: number;
  afterKiB: number;
  perTunnelKiB: number;
  /** What `inspect` (e.g. the gateways' own metrics) said with the tunnels open. */
  inspected?: string;
}

/** (RSS after − RSS before) / count, over the processes in `pids`, summed. */
export async function measureIdleTunnels(opts: {
  pids: readonly number[];
  host: string;
  port: number;
  count: number;
  expect: string;
  /** Read before and after (with the tunnels still open), reported as is. */
  inspect?: () => Promise<string>;
}): Promise<IdleMemory> {
  const beforeKiB = await settledRssKiB(opts.pids);
  const inspectedBefore = await opts.inspect?.();
  const tunnels = await openIdleTunnels(opts);
  try {
    const afterKiB = await settledRssKiB(opts.pids);
    const inspectedAfter = await opts.inspect?.();
    const result = { beforeKiB, afterKiB, perTunnelKiB: (afterKiB - beforeKiB) / opts.count };
    return inspectedAfter === undefined
      ? result
      : { ...result, inspected: `before: ${inspectedBefore}; with the tunnels open: ${inspectedAfter}` };
  } finally {
    tunnels.close();
  }
}
