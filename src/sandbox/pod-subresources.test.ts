/**
 * pods/proxy and pods/log, over real HTTP and through the real kubectl (`get --raw`, `logs`,
 * `logs -f`, `logs deploy/…`): what reaches the pod, what kube-apiserver refuses, and RBAC.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../wait-for.js';
import { type PodLogRequest, type Sandbox, startSandbox } from './index.js';
import { call, closeAgent, type KubectlResult, kubectlWith } from './test-support.js';

let relaxed: Sandbox;
let strict: Sandbox;
let dir: string;
let logFile: string;
let logOffset: number;
let backend: http.Server;
let backendPort: number;
let closedPort: number;
const seen: { method?: string; url?: string; authorization?: string; body: string }[] = [];
const logRequests: PodLogRequest[] = [];
const children: ChildProcess[] = [];

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const logLine = (i: number, msg: string) => JSON.stringify({ level: 30, time: T0 + i * 60_000, msg });

function pod(name: string, ip: string | undefined, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      nodeName: 'node-a',
      containers: [{ name: 'app', image: 'example/app:1', ports: [{ containerPort: backendPort }] }],
      ...extra,
    },
    ...(ip ? { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } } : {}),
  };
}

async function createPod(sb: Sandbox, body: ReturnType<typeof pod>): Promise<void> {
  const created = await call(sb, 'POST', '/api/v1/namespaces/default/pods', body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  if (!body.status) return;
  const res = await call(sb, 'PUT', `/api/v1/namespaces/default/pods/${body.metadata.name}/status`, {
    ...created.body,
    status: body.status,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

function kubectl(sb: Sandbox, ...args: string[]): Promise<KubectlResult> {
  const kubeconfig = join(dir, `${sb.name}.kubeconfig`);
  writeFileSync(kubeconfig, sb.kubeconfig());
  return kubectlWith(kubeconfig, dir)(...args);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sandbox-pods-'));
  logFile = join(dir, 'web.log');
  // A previous run's output, which the current container's log must not show.
  writeFileSync(logFile, `${logLine(0, 'previous run')}\n`);
  logOffset = statSync(logFile).size;
  appendFileSync(logFile, `${[1, 2, 3].map((i) => logLine(i, `line ${i}`)).join('\n')}\nnot json\n`);
  backend = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
      res.writeHead(req.url?.startsWith('/missing') ? 404 : 200, {
        'content-type': 'text/plain',
        'x-pod': 'web',
      });
      res.end(`pod answered ${req.method} ${req.url}`);
    });
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  backendPort = (backend.address() as AddressInfo).port;
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));

  relaxed = await startSandbox({
    name: 'pods-lab',
    allowLoopbackEndpoints: true,
    podLogs: (req) => {
      logRequests.push(req);
      if (req.pod !== 'web' && req.labels.app !== 'multi') return undefined;
      return { file: logFile, offset: logOffset, previous: { offset: 0, end: logOffset } };
    },
  });
  strict = await startSandbox({ name: 'pods-strict' });
  await createPod(relaxed, pod('web', '127.0.0.1'));
  await createPod(relaxed, pod('pending', undefined));
  await createPod(
    relaxed,
    pod('closed', '127.0.0.1', {
      containers: [{ name: 'app', image: 'x', ports: [{ containerPort: closedPort }] }],
    }),
  );
  await createPod(
    relaxed,
    pod('multi', '127.0.0.1', {
      containers: [
        { name: 'app', image: 'x' },
        { name: 'sidecar', image: 'y' },
      ],
    }),
  );
  await createPod(relaxed, pod('quiet', '127.0.0.1'));
  await createPod(strict, pod('web', '127.0.0.1'));
  await createPod(strict, pod('far', '10.244.1.7'));
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const sb of [relaxed, strict]) {
    await closeAgent(sb);
    await sb.close();
  }
  await new Promise((r) => backend.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('pods/proxy', () => {
  it('forwards method, path, query and body to the pod, without the caller credentials', async () => {
    const res = await call(
      relaxed,
      'GET',
      `/api/v1/namespaces/default/pods/web:${backendPort}/proxy/metrics?x=1&y=two`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toBe('pod answered GET /metrics?x=1&y=two');
    expect(res.headers['x-pod']).toBe('web');
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/metrics?x=1&y=two', authorization: undefined });

    const post = await call(
      relaxed,
      'POST',
      `/api/v1/namespaces/default/pods/web:${backendPort}/proxy/hook`,
      undefined,
      {
        rawBody: 'payload',
        contentType: 'text/plain',
      },
    );
    expect(post.body).toBe('pod answered POST /hook');
    expect(seen.at(-1)?.body).toBe('payload');
  });

  it('without a port, dials the first container port; the pod status code comes back as is', async () => {
    expect((await call(relaxed, 'GET', '/api/v1/namespaces/default/pods/web/proxy/')).body).toBe(
      'pod answered GET /',
    );
    expect((await call(relaxed, 'GET', '/api/v1/namespaces/default/pods/web/proxy/missing')).status).toBe(
      404,
    );
  });

  it('is what kubectl get --raw reaches', async () => {
    const r = await kubectl(
      relaxed,
      'get',
      '--raw',
      `/api/v1/namespaces/default/pods/web:${backendPort}/proxy/metrics`,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('pod answered GET /metrics');
  });

  it('refuses loopback pod IPs on a strict server, and pods without an IP anywhere (400 address not allowed)', async () => {
    for (const [sb, name] of [
      [strict, 'web'],
      [relaxed, 'pending'],
    ] as const) {
      const res = await call(sb, 'GET', `/api/v1/namespaces/default/pods/${name}/proxy/metrics`);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ reason: 'BadRequest', message: 'address not allowed' });
    }
  });

  it('answers 503 ServiceUnavailable when nothing listens, 404 for a missing pod, 400 for a bad name', async () => {
    const down = await call(relaxed, 'GET', '/api/v1/namespaces/default/pods/closed/proxy/');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      reason: 'ServiceUnavailable',
      message: `error trying to reach service: dial tcp 127.0.0.1:${closedPort}: connect: connection refused`,
    });
    const missing = await call(relaxed, 'GET', '/api/v1/namespaces/default/pods/nope:80/proxy/');
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe('pods "nope" not found');
    expect((await call(relaxed, 'GET', '/api/v1/namespaces/default/pods/ftp:web:80/proxy/')).status).toBe(
      400,
    );
    expect((await call(relaxed, 'GET', '/api/v1/namespaces/default/pods/proxy')).status).toBe(404);
  });

  it('needs the pods/proxy permission, not just get pods', async () => {
    relaxed.addToken('reader', {
      username: 'reader',
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }],
    });
    relaxed.addToken('prober', {
      username: 'prober',
      rules: [{ apiGroups: [''], resources: ['pods/proxy'], verbs: ['get'] }],
    });
    const path = `/api/v1/namespaces/default/pods/web:${backendPort}/proxy/metrics`;
    const denied = await call(relaxed, 'GET', path, undefined, { token: 'reader' });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toContain('cannot get resource "pods/proxy"');
    expect((await call(relaxed, 'GET', path, undefined, { token: 'prober' })).status).toBe(200);
    expect((await call(relaxed, 'POST', path, undefined, { token: 'prober', rawBody: 'x' })).status).toBe(
      403,
    );
  });
});

describe('pods/log', () => {
  it('kubectl logs shows the current container output only, with --tail, --limit-bytes, --timestamps and --since', async () => {
    const all = await kubectl(relaxed, 'logs', 'web');
    expect(all.stderr).toBe('');
    expect(all.stdout).toBe(`${[1, 2, 3].map((i) => logLine(i, `line ${i}`)).join('\n')}\nnot json\n`);
    expect(logRequests.at(-1)).toEqual({
      namespace: 'default',
      pod: 'web',
      labels: { app: 'web' },
      container: 'app',
    });

    expect((await kubectl(relaxed, 'logs', 'web', '--tail=2')).stdout).toBe(
      `${logLine(3, 'line 3')}\nnot json\n`,
    );
    expect((await kubectl(relaxed, 'logs', 'web', '--limit-bytes=10')).stdout).toBe(
      logLine(1, 'line 1').slice(0, 10),
    );
    const stamped = (await kubectl(relaxed, 'logs', 'web', '--timestamps', '--tail=2')).stdout.split('\n');
    // The unstructured line takes the time of the line before it.
    expect(stamped.slice(0, 2)).toEqual([
      `2026-11-22T10:03:00.000Z ${logLine(3, 'line 3')}`,
      '2026-11-22T10:03:00.000Z not json',
    ]);
    const since = await call(
      relaxed,
      'GET',
      `/api/v1/namespaces/default/pods/web/log?sinceTime=${encodeURIComponent('2026-11-22T10:02:00Z')}`,
    );
    expect(since.body).toBe(`${logLine(2, 'line 2')}\n${logLine(3, 'line 3')}\nnot json\n`);
  });

  it('kubectl logs --previous shows the terminated run, and only it', async () => {
    const r = await kubectl(relaxed, 'logs', 'web', '--previous');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${logLine(0, 'previous run')}\n`);
  });

  it('kubectl logs deploy/<name> finds the pod by the Deployment selector', async () => {
    const deploy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'app', image: 'x' }] },
        },
      },
    };
    expect((await call(relaxed, 'POST', '/apis/apps/v1/namespaces/default/deployments', deploy)).status).toBe(
      201,
    );
    const r = await kubectl(relaxed, 'logs', 'deploy/web', '--tail=1');
    expect(r.stdout).toBe('not json\n');
  });

  it('kubectl logs -f streams what the container writes next', async () => {
    const kubeconfig = join(dir, `${relaxed.name}.kubeconfig`);
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, 'logs', '-f', 'web', '--tail=0']);
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    // Appended until seen: the follower may attach after the first append.
    await waitFor(
      'the appended line in kubectl logs -f',
      () => {
        if (out.includes('fresh line')) return true;
        appendFileSync(logFile, `${logLine(4, 'fresh line')}\n`);
        return undefined;
      },
      { timeoutMs: 15_000, intervalMs: 300 },
    );
    expect(out.split('\n')[0]).toBe(logLine(4, 'fresh line'));
    child.kill('SIGINT');
  });

  it('refuses what kube-apiserver refuses, with its messages', async () => {
    const cases: [Sandbox, string, number, string][] = [
      [
        relaxed,
        'multi/log',
        400,
        'a container name must be specified for pod multi, choose one of: [app sidecar]',
      ],
      [relaxed, 'web/log?container=nope', 400, 'container nope is not valid for pod web'],
      [
        relaxed,
        'quiet/log?previous=true',
        400,
        'previous terminated container "app" in pod "quiet" not found',
      ],
      [relaxed, 'web/log?tailLines=-1', 400, 'tailLines: Invalid value: must be greater than or equal to 0'],
      [
        relaxed,
        'web/log?sinceSeconds=5&sinceTime=2026-11-22T10:00:00Z',
        400,
        'at most one of `sinceTime` or `sinceSeconds` may be specified',
      ],
      [
        relaxed,
        'quiet/log',
        400,
        'no log is kept for container "app" in pod "quiet" (this API server has no kubelet)',
      ],
      [
        strict,
        'far/log',
        400,
        'no log is kept for container "app" in pod "far" (this API server has no kubelet)',
      ],
      [relaxed, 'nope/log', 404, 'pods "nope" not found'],
    ];
    for (const [sb, path, status, message] of cases) {
      const res = await call(sb, 'GET', `/api/v1/namespaces/default/pods/${path}`);
      expect({ path, status: res.status, message: res.body.message }).toEqual({ path, status, message });
    }
    expect(
      (await call(relaxed, 'GET', '/api/v1/namespaces/default/pods/multi/log?container=sidecar')).status,
    ).toBe(200);
    expect((await call(relaxed, 'POST', '/api/v1/namespaces/default/pods/web/log', {})).status).toBe(405);
  });
});

describe('kubectl get pods', () => {
  it('shows a waiting container reason as STATUS and the last restart in RESTARTS, as kubectl prints them', async () => {
    await createPod(relaxed, pod('crashy', '127.0.0.1'));
    const current = await call(relaxed, 'GET', '/api/v1/namespaces/default/pods/crashy');
    const finishedAt = new Date(Date.now() - 30_000).toISOString();
    const res = await call(relaxed, 'PUT', '/api/v1/namespaces/default/pods/crashy/status', {
      ...current.body,
      status: {
        ...current.body.status,
        containerStatuses: [
          {
            name: 'app',
            image: 'example/app:1',
            imageID: '',
            ready: false,
            restartCount: 2,
            state: {
              waiting: { reason: 'CrashLoopBackOff', message: 'back-off 2s restarting failed container' },
            },
            lastState: { terminated: { exitCode: 137, reason: 'Error', startedAt: finishedAt, finishedAt } },
          },
        ],
      },
    });
    expect(res.status).toBe(200);
    const row = (await kubectl(relaxed, 'get', 'pod', 'crashy', '--no-headers')).stdout;
    expect(row).toMatch(/^crashy\s+0\/1\s+CrashLoopBackOff\s+2 \(3\ds ago\)\s/);
  });
});
