/**
 * `pods/log`: what `kubectl logs` reads. A real API server asks the pod's kubelet; the sandbox has
 * no kubelet, so whoever runs the "pods" (the lab) hands it a log source: a file and the offset
 * where the current container's output starts. PodLogOptions are checked as kube-apiserver checks
 * them (`pkg/apis/core/validation` ValidatePodLogOptions, the pod strategy's LogLocation), with the
 * same messages. Timestamps and `since*` read the `time` field (epoch ms) of JSON log lines, which
 * is what every Isthmus process writes; a line without one takes the time of the line before it.
 */
import { open, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { badRequest, notFound } from './api-status.js';
import { resourceKey } from './resource-types.js';
import { sendError } from './respond.js';
import type { ObjectStore } from './store.js';

export interface PodLogRequest {
  namespace: string;
  pod: string;
  labels: Record<string, string>;
  container: string;
}

export interface PodLogSource {
  file: string;
  /** Byte offset where this container's output starts (earlier bytes belong to a previous run). */
  offset?: number;
  /** Where the output ends, for a terminated run (no end: the run is current and may grow). */
  end?: number;
  /** The previous (terminated) run of the container, for `kubectl logs --previous`. */
  previous?: { offset: number; end: number };
}

export type PodLogSources = (req: PodLogRequest) => PodLogSource | undefined;

interface LogOptions {
  container: string | undefined;
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  tailLines: number | undefined;
  limitBytes: number | undefined;
  sinceMs: number | undefined;
}

function intParam(q: URLSearchParams, key: string): number | undefined {
  const v = q.get(key);
  if (v === null) return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`${key}: Invalid value: "${v}": must be an integer`);
  return Number(v);
}

const flag = (q: URLSearchParams, key: string) => q.get(key) === 'true' || q.get(key) === '1';

/** ValidatePodLogOptions. */
export function parseLogOptions(q: URLSearchParams, now = Date.now()): LogOptions {
  const tailLines = intParam(q, 'tailLines');
  const limitBytes = intParam(q, 'limitBytes');
  const sinceSeconds = intParam(q, 'sinceSeconds');
  const sinceTime = q.get('sinceTime');
  if (tailLines !== undefined && tailLines < 0)
    throw badRequest('tailLines: Invalid value: must be greater than or equal to 0');
  if (limitBytes !== undefined && limitBytes < 1)
    throw badRequest('limitBytes: Invalid value: must be greater than 0');
  if (sinceSeconds !== undefined && sinceTime !== null)
    throw badRequest('at most one of `sinceTime` or `sinceSeconds` may be specified');
  if (sinceSeconds !== undefined && sinceSeconds < 1)
    throw badRequest('sinceSeconds: Invalid value: must be greater than 0');
  let sinceMs: number | undefined;
  if (sinceSeconds !== undefined) sinceMs = now - sinceSeconds * 1000;
  if (sinceTime !== null) {
    sinceMs = Date.parse(sinceTime);
    if (Number.isNaN(sinceMs)) throw badRequest(`sinceTime: Invalid value: "${sinceTime}": must be RFC 3339`);
  }
  return {
    container: q.get('container') ?? undefined,
    follow: flag(q, 'follow'),
    previous: flag(q, 'previous'),
    timestamps: flag(q, 'timestamps'),
    tailLines,
    limitBytes,
    sinceMs,
  };
}

interface PodView {
  metadata: { labels?: Record<string, string> };
  spec?: { nodeName?: string; containers?: { name: string }[] };
}

/** The container and log source the request names, or kube's error for it. */
export function resolveLogSource(
  store: ObjectStore,
  namespace: string,
  name: string,
  opts: LogOptions,
  sources: PodLogSources | undefined,
): PodLogSource {
  const pod = store.get(resourceKey('', 'pods'), namespace, name) as PodView | undefined;
  if (!pod) throw notFound({ group: '', resource: 'pods' }, name);
  const containers = (pod.spec?.containers ?? []).map((c) => c.name);
  let container = opts.container;
  if (container === undefined) {
    if (containers.length !== 1)
      throw badRequest(
        `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`,
      );
    container = containers[0]!;
  }
  if (!containers.includes(container))
    throw badRequest(`container ${container} is not valid for pod ${name}`);
  if (!pod.spec?.nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
  const source = sources?.({ namespace, pod: name, labels: pod.metadata.labels ?? {}, container });
  if (opts.previous) {
    if (!source?.previous)
      throw badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
    return { file: source.file, offset: source.previous.offset, end: source.previous.end };
  }
  if (!source)
    throw badRequest(
      `no log is kept for container "${container}" in pod "${name}" (this API server has no kubelet)`,
    );
  return source;
}

/** Cuts complete lines off a growing text, stamping each with the time of its JSON `time` field. */
class LineCutter {
  private partial = '';
  private lastMs: number;

  constructor(startMs: number) {
    this.lastMs = startMs;
  }

  push(text: string): { line: string; ms: number }[] {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop()!;
    return parts.map((line) => ({ line, ms: this.stamp(line) }));
  }

  /** The unterminated tail, as a last line (a log read to its end shows it too). */
  flush(): { line: string; ms: number }[] {
    const tail = this.partial;
    this.partial = '';
    return tail === '' ? [] : [{ line: tail, ms: this.stamp(tail) }];
  }

  private stamp(line: string): number {
    const m = /"time":(\d{10,})/.exec(line);
    if (m) this.lastMs = Number(m[1]);
    return this.lastMs;
  }
}

const POLL_MS = 200;

export async function servePodLog(
  res: ServerResponse,
  source: PodLogSource,
  opts: LogOptions,
): Promise<void> {
  try {
    const info = await stat(source.file).catch(() => undefined);
    if (!info) throw badRequest(`log file ${source.file} is gone`);
    const file = await open(source.file, 'r');
    let closed = false;
    res.once('close', () => {
      closed = true;
    });
    try {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
      let position = Math.min(source.offset ?? 0, info.size);
      let budget = opts.limitBytes ?? Number.POSITIVE_INFINITY;
      const cutter = new LineCutter(info.birthtimeMs || info.mtimeMs);
      const emit = (lines: { line: string; ms: number }[]) => {
        for (const { line, ms } of lines) {
          if (opts.sinceMs !== undefined && ms < opts.sinceMs) continue;
          let out = Buffer.from(`${opts.timestamps ? `${new Date(ms).toISOString()} ` : ''}${line}\n`);
          if (out.length > budget) out = out.subarray(0, budget);
          budget -= out.length;
          res.write(out);
          if (budget <= 0) return false;
        }
        return true;
      };
      const readNew = async () => {
        const size = Math.min((await file.stat()).size, source.end ?? Number.POSITIVE_INFINITY);
        if (size <= position) return '';
        const buf = Buffer.alloc(size - position);
        const { bytesRead } = await file.read(buf, 0, buf.length, position);
        position += bytesRead;
        return buf.subarray(0, bytesRead).toString('utf8');
      };
      const following = opts.follow && source.end === undefined;
      let lines = cutter.push(await readNew());
      if (!following) lines.push(...cutter.flush());
      if (opts.tailLines !== undefined) lines = opts.tailLines === 0 ? [] : lines.slice(-opts.tailLines);
      let more = emit(lines);
      // follow: poll the file until the client hangs up (or the sandbox closes its connection).
      while (more && following && !closed) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        if (!closed) more = emit(cutter.push(await readNew()));
      }
    } finally {
      await file.close();
    }
    if (!res.writableEnded) res.end();
  } catch (err) {
    if (!res.headersSent) sendError(res, err);
    else res.destroy();
  }
}
