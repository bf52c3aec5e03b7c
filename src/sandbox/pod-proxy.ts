/**
 * `pods/proxy`: `/api/v1/namespaces/<ns>/pods/[https:]<name>[:<port>]/proxy/<path>` forwards the
 * request to the pod's IP, as kube-apiserver does (`pkg/registry/core/pod/strategy.go`
 * ResourceLocation; `isthmus gateways` reads the controller's metrics this way). Like the real
 * server, it refuses a pod without a proxyable IP ("address not allowed": loopback included, unless
 * the sandbox's one loopback relaxation is on), answers 503 when the pod does not answer, and does
 * not pass the caller's credentials on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';
import { nonSpecialIPErrors } from '../kube/validation/endpoint-slice.js';
import { badRequest, notFound, serviceUnavailable } from './api-status.js';
import { resourceKey } from './resource-types.js';
import { sendError } from './respond.js';
import type { ObjectStore } from './store.js';

export interface PodTarget {
  scheme: 'http' | 'https';
  name: string;
  port: string | undefined;
}

/** utilnet.SplitSchemeNamePort: `name`, `name:port`, `scheme:name:port` (scheme http or https). */
export function splitSchemeNamePort(id: string): PodTarget | undefined {
  const parts = id.split(':');
  let scheme = '';
  let name: string;
  let port = '';
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) [name, port] = parts as [string, string];
  else if (parts.length === 3) [scheme, name, port] = parts as [string, string, string];
  else return undefined;
  if (name === '' || (scheme !== '' && scheme !== 'http' && scheme !== 'https')) return undefined;
  return { scheme: scheme === 'https' ? 'https' : 'http', name, port: port || undefined };
}

interface PodView {
  spec?: { containers?: { ports?: { containerPort?: number }[] }[] };
  status?: { podIP?: string };
}

/** Headers that belong to one hop (RFC 9110 §7.6.1), and the credentials the apiserver consumed. */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
  'content-length',
]);

function forwardable(headers: IncomingMessage['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !NOT_FORWARDED.has(k)) out[k] = v;
  return out;
}

/** The pod's URL, or the error kube-apiserver gives for it. */
export function podLocation(store: ObjectStore, namespace: string, id: string, allowLoopback: boolean): URL {
  const target = splitSchemeNamePort(id);
  if (!target) throw badRequest(`invalid request ${JSON.stringify(id)}`);
  const pod = store.get(resourceKey('', 'pods'), namespace, target.name) as PodView | undefined;
  if (!pod) throw notFound({ group: '', resource: 'pods' }, target.name);
  // No port named: the first port any container declares, as ResourceLocation picks it.
  const port =
    target.port ??
    pod.spec?.containers
      ?.flatMap((c) => c.ports ?? [])
      .find((p) => p.containerPort !== undefined)
      ?.containerPort?.toString();
  const ip = pod.status?.podIP ?? '';
  if (ip === '' || nonSpecialIPErrors(ip, { allowLoopbackEndpoints: allowLoopback }).length > 0)
    throw badRequest('address not allowed');
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return new URL(`${target.scheme}://${host}${port ? `:${port}` : ''}`);
}

// kube-apiserver does not verify a pod's serving certificate (there is no name to verify it against).
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

export async function proxyToPod(
  req: IncomingMessage,
  res: ServerResponse,
  location: URL,
  path: string,
  query: URLSearchParams,
  body: Buffer,
): Promise<void> {
  const search = query.toString();
  const url = new URL(`${path}${search ? `?${search}` : ''}`, location);
  try {
    const answer = await request(url, {
      method: (req.method ?? 'GET') as 'GET',
      headers: forwardable(req.headers),
      ...(body.length > 0 ? { body } : {}),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
      ...(location.protocol === 'https:' ? { dispatcher: insecure } : {}),
    }).catch((err: unknown) => {
      const e = err as { code?: string; message?: string };
      const why = e.code === 'ECONNREFUSED' ? 'connect: connection refused' : (e.message ?? String(err));
      throw serviceUnavailable(`error trying to reach service: dial tcp ${location.host}: ${why}`);
    });
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(answer.headers))
      if (v !== undefined && !NOT_FORWARDED.has(k)) headers[k] = v;
    res.writeHead(answer.statusCode, headers);
    await pipeline(answer.body, res);
  } catch (err) {
    if (!res.headersSent) sendError(res, err);
    else res.destroy();
  }
}
