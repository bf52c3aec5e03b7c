/**
 * Test helpers for talking to a sandbox over real HTTP: JSON requests with the admin (or any)
 * token, and a watch reader that yields events with a deadline on every wait.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, type Dispatcher, request } from 'undici';
import { afterEach } from 'vitest';
import { waitFor } from '../wait-for.js';
import { type Sandbox, type SandboxOptions, startSandbox } from './index.js';

/** Decoded JSON bodies: tests index into them freely, as into the YAML a user reads. */
// biome-ignore lint/suspicious/noExplicitAny: arbitrary JSON from the server
export type Json = Record<string, any>;

export interface ApiResponse<T = Json> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

const agents = new WeakMap<Sandbox, Agent>();

function agentFor(sb: Sandbox): Agent {
  let a = agents.get(sb);
  if (!a) {
    a = new Agent({ connect: sb.caPem ? { ca: sb.caPem } : {} });
    agents.set(sb, a);
  }
  return a;
}

export async function closeAgent(sb: Sandbox): Promise<void> {
  const a = agents.get(sb);
  agents.delete(sb);
  await a?.close();
}

export interface CallOptions {
  token?: string | null;
  contentType?: string;
  accept?: string;
  rawBody?: string | Buffer;
}

export async function call<T = Json>(
  sb: Sandbox,
  method: Dispatcher.HttpMethod,
  path: string,
  body?: unknown,
  o: CallOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {};
  const token = o.token === undefined ? sb.adminToken : o.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (o.accept) headers.accept = o.accept;
  let payload: string | Buffer | undefined = o.rawBody;
  if (payload === undefined && body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
  const res = await request(`${sb.url}${path}`, {
    method,
    headers,
    body: payload,
    dispatcher: agentFor(sb),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (health endpoints)
  }
  return { status: res.statusCode, body: parsed as T, headers: res.headers };
}

export interface WatchEvent {
  type: string;
  object: Json;
}

/** An open watch stream; next() waits for one event (or stream end → undefined) with a deadline. */
export class WatchReader {
  private buffer = '';
  private readonly queue: WatchEvent[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  private constructor(private readonly abort: AbortController) {}

  static async open(
    sb: Sandbox,
    path: string,
    token: string = sb.adminToken,
    accept?: string,
  ): Promise<WatchReader> {
    const ac = new AbortController();
    const reader = new WatchReader(ac);
    const res = await request(`${sb.url}${path}`, {
      headers: { authorization: `Bearer ${token}`, ...(accept ? { accept } : {}) },
      dispatcher: agentFor(sb),
      signal: ac.signal,
      bodyTimeout: 0,
      headersTimeout: 10_000,
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new Error(`watch ${path}: HTTP ${res.statusCode}: ${text}`);
    }
    res.body.on('data', (chunk: Buffer) => {
      reader.buffer += chunk.toString('utf8');
      let nl = reader.buffer.indexOf('\n');
      while (nl >= 0) {
        const line = reader.buffer.slice(0, nl).trim();
        reader.buffer = reader.buffer.slice(nl + 1);
        if (line) reader.queue.push(JSON.parse(line) as WatchEvent);
        nl = reader.buffer.indexOf('\n');
      }
      reader.wake?.();
    });
    const finish = () => {
      reader.ended = true;
      reader.wake?.();
    };
    res.body.on('end', finish);
    res.body.on('error', finish);
    res.body.on('close', finish);
    return reader;
  }

  async next(timeoutMs = 5000): Promise<WatchEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0 && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no watch event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return this.queue.shift();
  }

  /** Skips BOOKMARKs. */
  async nextChange(timeoutMs = 5000): Promise<WatchEvent | undefined> {
    for (;;) {
      const ev = await this.next(timeoutMs);
      if (ev?.type !== 'BOOKMARK') return ev;
    }
  }

  get isEnded(): boolean {
    return this.ended && this.queue.length === 0;
  }

  close(): void {
    this.abort.abort();
  }
}

/**
 * The sandboxes (plain HTTP, no CRDs, with `base` options) and the watches a test opens, all closed
 * after it: `sandbox(extra)` starts one, `watch(sb, path)` opens a WatchReader on it.
 */
export function watchSandboxesPerTest(base: SandboxOptions) {
  const open: Sandbox[] = [];
  const readers: WatchReader[] = [];
  afterEach(async () => {
    for (const r of readers.splice(0)) r.close();
    for (const sb of open.splice(0)) {
      await closeAgent(sb);
      await sb.close();
    }
  });
  return {
    async sandbox(extra: Partial<SandboxOptions> = {}): Promise<Sandbox> {
      const sb = await startSandbox({ tls: false, loadCrds: false, ...base, ...extra });
      open.push(sb);
      return sb;
    },
    async watch(sb: Sandbox, path: string): Promise<WatchReader> {
      const r = await WatchReader.open(sb, path);
      readers.push(r);
      return r;
    },
  };
}

/** Polls a condition until it holds, failing after the deadline. */
export function eventually<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 5000,
): Promise<T> {
  return waitFor('condition', fn, timeoutMs) as Promise<T>;
}

export function svc(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, ...((extra.metadata as object) ?? {}) },
    spec: { ports: [{ name: 'http', port: 80 }], ...((extra.spec as object) ?? {}) },
  };
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real kubectl with this kubeconfig (discovery cached under `dir`), 20 s deadline per call. */
export function kubectlWith(kubeconfig: string, dir: string) {
  return (...args: string[]): Promise<KubectlResult> =>
    new Promise((resolve) => {
      execFile(
        'kubectl',
        ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args],
        { timeout: 20_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
}

export interface KubectlSandbox {
  sb: Sandbox;
  kubectl: ReturnType<typeof kubectlWith>;
  close(): Promise<void>;
}

/** A sandbox and the real kubectl on it (kubeconfig and cache in a temp dir); `close` removes both. */
export async function startKubectlSandbox(name: string): Promise<KubectlSandbox> {
  const sb = await startSandbox({ name });
  const dir = mkdtempSync(join(tmpdir(), `sandbox-${name}-`));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, sb.kubeconfig());
  return {
    sb,
    kubectl: kubectlWith(kubeconfig, dir),
    close: async () => {
      await closeAgent(sb);
      await sb.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
