/**
 * Client behaviour that needs precise control over the server's answers (pagination, 429 with
 * Retry-After, a refused connection), against a raw node:http stand-in. CRUD semantics are tested
 * against the sandbox in client.sandbox.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from './client.js';
import { R } from './resources.js';
import { waitFor, within } from './test-support.js';
import { createTokenReviewer } from './token-review.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function kubeconfig(server: string): string {
  return `apiVersion: v1
kind: Config
current-context: t
clusters: [{ name: t, cluster: { server: "${server}" } }]
users: [{ name: u, user: { token: secret-token } }]
contexts: [{ name: t, context: { cluster: t, user: u } }]
`;
}

async function serve(handler: Handler): Promise<{ client: KubeClient; paths: string[] }> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = KubeClient.fromKubeconfigString(kubeconfig(`http://127.0.0.1:${port}`));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  cleanups.push(() => server.closeAllConnections());
  cleanups.push(() => client.close());
  return { client, paths };
}

function json(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

describe('KubeClient (stand-in server)', () => {
  it('sends the bearer token and follows continue pages', async () => {
    let auth = '';
    const { client, paths } = await serve((req, res) => {
      auth = req.headers.authorization ?? '';
      const url = new URL(req.url ?? '', 'http://x');
      const page = url.searchParams.get('continue');
      if (!page)
        json(res, 200, {
          metadata: { resourceVersion: '10', continue: 'p2' },
          items: [{ metadata: { name: 'a' } }],
        });
      else json(res, 200, { metadata: { resourceVersion: '10' }, items: [{ metadata: { name: 'b' } }] });
    });
    const out = await client.list(R.services, { namespace: 'default', labelSelector: 'a=b', limit: 1 });
    expect(out.items.map((i) => i.metadata?.name)).toEqual(['a', 'b']);
    expect(out.items[0]).toMatchObject({ apiVersion: 'v1', kind: 'Service' });
    expect(out.resourceVersion).toBe('10');
    expect(auth).toBe('Bearer secret-token');
    expect(paths).toEqual([
      '/api/v1/namespaces/default/services?labelSelector=a%3Db&limit=1',
      '/api/v1/namespaces/default/services?labelSelector=a%3Db&limit=1&continue=p2',
    ]);
    expect(client.stats().byVerb.list).toBe(2);
  });

  it('applies a transform to each page as it arrives, before the next is asked for', async () => {
    const { client, paths } = await serve((req, res) => {
      const page = new URL(req.url ?? '', 'http://x').searchParams.get('continue');
      const name = page ? 'b' : 'a';
      json(res, 200, {
        metadata: { resourceVersion: '10', ...(page ? {} : { continue: 'p2' }) },
        items: [{ metadata: { name }, spec: { big: 'x' } }],
      });
    });
    const pagesWhenTrimmed: number[] = [];
    const out = await client.list(R.services, {
      limit: 1,
      transform: (item) => {
        pagesWhenTrimmed.push(paths.length);
        return { metadata: item.metadata };
      },
    });
    expect(out.items).toEqual([{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }]);
    expect(pagesWhenTrimmed).toEqual([1, 2]);
  });

  it('retries a 429 after Retry-After, then succeeds', async () => {
    let calls = 0;
    const { client } = await serve((_req, res) => {
      calls++;
      if (calls === 1)
        json(res, 429, { kind: 'Status', code: 429, message: 'slow down' }, { 'retry-after': '0' });
      else json(res, 200, { metadata: { name: 'x' } });
    });
    await expect(client.get(R.configMaps, 'default', 'x')).resolves.toMatchObject({
      metadata: { name: 'x' },
    });
    expect(client.stats().throttleRetries).toBe(1);
  });

  it('maps 404 to undefined on get and false on delete; 500 to KUBE_API_UNAVAILABLE', async () => {
    const { client } = await serve((req, res) => {
      if (req.url?.includes('boom')) json(res, 500, { kind: 'Status', code: 500, message: 'etcd down' });
      else json(res, 404, { kind: 'Status', code: 404, reason: 'NotFound' });
    });
    await expect(client.get(R.services, 'default', 'nope')).resolves.toBeUndefined();
    await expect(client.delete(R.services, 'default', 'nope')).resolves.toBe(false);
    await expect(client.get(R.services, 'default', 'boom')).rejects.toMatchObject({
      code: 'KUBE_API_UNAVAILABLE',
      message: expect.stringContaining('etcd down'),
    });
  });

  it('a refused connection is KUBE_API_UNAVAILABLE', async () => {
    const { client } = await serve((_req, res) => json(res, 200, {}));
    const port = new URL(client.server).port;
    const dead = KubeClient.fromKubeconfigString(
      kubeconfig(`http://127.0.0.1:${Number(port) === 1 ? 2 : 1}`),
    );
    cleanups.push(() => dead.close());
    await expect(dead.version()).rejects.toMatchObject({ code: 'KUBE_API_UNAVAILABLE' });
  });

  it('an answer that never comes ends at the request timeout, and closing the client ends a request at once', async () => {
    const held: http.ServerResponse[] = [];
    const { client } = await serve((req, res) => {
      if (req.url?.includes('slow')) held.push(res);
      else res.end();
    });
    const port = new URL(client.server).port;
    const timed = KubeClient.fromKubeconfigString(kubeconfig(`http://127.0.0.1:${port}`), undefined, {
      timeoutMs: 200,
    });
    cleanups.push(() => timed.close());
    await expect(timed.get(R.services, 'default', 'slow')).rejects.toMatchObject({
      code: 'KUBE_API_UNAVAILABLE',
    });
    const closing = KubeClient.fromKubeconfigString(kubeconfig(`http://127.0.0.1:${port}`));
    const pending = closing.get(R.services, 'default', 'slow-too');
    await waitFor('the second request to reach the server', () => held.length === 2, 5000);
    closing.close();
    // A hang guard, not a speed claim: the close aborts it, else it would run to the 30 s default timeout.
    await expect(within(pending, 15_000, 'the request to end once its client closed')).rejects.toThrow(
      'KubeClient closed',
    );
  });

  it('a TokenReview whose answer never comes ends when its signal aborts, not at the 30 s timeout', async () => {
    const held: http.ServerResponse[] = [];
    const { client } = await serve((_req, res) => held.push(res));
    const caller = new AbortController();
    const pending = createTokenReviewer(client)('token', ['identity.isthmus.dev'], caller.signal);
    await waitFor('the review to reach the server', () => held.length === 1, 5000);
    caller.abort(new Error('the caller gave up'));
    // Within the test's 10 s deadline, so not at the client's own 30 s timeout.
    await expect(pending).rejects.toThrow();
  }, 10_000);

  it('reads an answer that arrives in many small chunks, multi-byte characters split among them', async () => {
    const text = JSON.stringify({
      metadata: { name: 'ü-svc', annotations: { note: 'grüße ✓ 🚀'.repeat(50) } },
    });
    const bytes = Buffer.from(text, 'utf8');
    const { client } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < bytes.length; i += 7) res.write(bytes.subarray(i, i + 7));
      res.end();
    });
    const svc = await client.get<{ metadata: { name: string; annotations: { note: string } } }>(
      R.services,
      'default',
      'x',
    );
    expect(svc?.metadata.annotations.note).toBe('grüße ✓ 🚀'.repeat(50));
  });

  it('rate limits every request including watch starts', async () => {
    const { client: plain } = await serve((_req, res) => json(res, 200, {}));
    const port = new URL(plain.server).port;
    const limited = KubeClient.fromKubeconfigString(kubeconfig(`http://127.0.0.1:${port}`), undefined, {
      rateLimit: { qps: 20, burst: 1 },
    });
    cleanups.push(() => limited.close());
    const start = performance.now();
    await Promise.all([limited.version(), limited.version(), limited.version()]);
    expect(performance.now() - start).toBeGreaterThanOrEqual(80);
    expect(limited.stats().rateLimitWaitMs).toBeGreaterThanOrEqual(100);
  });
});

describe('a server that accepts connections and never answers (a stopped API server)', () => {
  it('is given up after the request timeout, not undici’s own 10 s connect timeout', async () => {
    // The kernel accepts into the backlog of a stopped process: TCP connects, TLS never starts.
    const silent = net.createServer(() => {});
    const held = new Set<net.Socket>();
    silent.on('connection', (s) => held.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    cleanups.push(() => {
      for (const s of held) s.destroy();
    });
    const { port } = silent.address() as AddressInfo;
    const config = kubeconfig(`https://127.0.0.1:${port}`).replace(
      '{ server: "',
      '{ insecure-skip-tls-verify: true, server: "',
    );
    const client = KubeClient.fromKubeconfigString(config, undefined, { timeoutMs: 300 });
    cleanups.push(() => client.close());
    const err = await client.get(R.namespaces, undefined, 'default').catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/UND_ERR_CONNECT_TIMEOUT.*timeout: 300ms/);
  });
});
