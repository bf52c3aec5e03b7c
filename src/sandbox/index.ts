/**
 * Public entry point of the strict sandbox API server: `startSandbox` wires store, registry,
 * controllers, auth and the HTTP(S) listener for one simulated cluster.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { hostPort } from '../host-port.js';
import { ValidatingAdmissionPolicies } from './admission-policy.js';
import { PolicyIndex } from './admission-policy-index.js';
import { Auth } from './auth.js';
import { FaultState } from './faults.js';
import { GarbageCollector } from './gc-controller.js';
import { type KubeconfigEntry, renderKubeconfig } from './kubeconfig.js';
import type { PodLogSources } from './pod-logs.js';
import type { PolicyRule } from './rbac.js';
import { Registry } from './registry.js';
import { resourceKey } from './resource-types.js';
import { RestOps } from './rest-ops.js';
import { SandboxListener } from './server.js';
import { ServiceAllocations } from './service-allocations.js';
import { type KObj, ObjectStore, type StoreSnapshot } from './store.js';
import { SystemControllers } from './system-controllers.js';
import { makeServingCerts } from './tls.js';
import { WatchHub } from './watch.js';

export type { PodLogRequest, PodLogSource, PodLogSources } from './pod-logs.js';
export type { PolicyRule } from './rbac.js';

export interface SandboxOptions {
  name: string;
  host?: string;
  port?: number;
  tls?: boolean;
  allowLoopbackEndpoints?: boolean;
  watchWindow?: number;
  bookmarkIntervalMs?: number;
  /**
   * kube-apiserver's `--service-cluster-ip-range`: one CIDR (default 10.96.0.0/12, single-stack
   * IPv4), or an IPv4 and an IPv6 CIDR for a dual-stack cluster whose default family is the first.
   */
  serviceCidr?: string;
  loadCrds?: boolean;
  adminToken?: string;
  /** Where `kubectl logs` finds a pod's output (the lab's processes); no logs are served without it. */
  podLogs?: PodLogSources;
}

export interface Sandbox {
  readonly name: string;
  readonly url: string;
  readonly caPem: string | undefined;
  readonly adminToken: string;
  addToken(token: string, user: { username: string; groups?: string[]; rules: PolicyRule[] | 'admin' }): void;
  kubeconfig(opts?: { token?: string; user?: string; context?: string }): string;
  faults: {
    /** Every watch ended by the server, cleanly (as at its timeoutSeconds). */
    dropWatches(): void;
    /**
     * Every watch's connection reset, as an API server's crash or restart ends it: its client sees
     * a broken stream, not a watch the server ended. Idle pooled connections are left open (a
     * client would reconnect; a test's next request should not have to).
     */
    resetWatches(): void;
    setDelay(ms: number): void;
    failNext(n: number, status: 500 | 429): void;
    goOffline(): Promise<void>;
    goOnline(): Promise<void>;
    /** Time passes for tokens: every token a TokenRequest issued so far has expired (401 from now on). */
    expireBoundTokens(): void;
    /** The store now, for `restore` (an etcd snapshot). */
    snapshot(): StoreSnapshot;
    /**
     * An etcd restore from `snap` (store.ts `restore`) and the API server restart: every watch's
     * connection reset (resetWatches), the admission-policy index and the Service IP/port
     * allocations rebuilt from the restored store.
     */
    restore(snap: StoreSnapshot, opts?: { bumpRevision?: number }): void;
  };
  stats(): { requests: number; writes: number; openWatches: number };
  close(): Promise<void>;
}

/** The project's CRD manifests, found by walking up from this module (works from src/ and dist/). */
function crdManifestDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'manifests', 'crds');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

function loadCrdDocuments(): unknown[] {
  const dir = crdManifestDir();
  if (!dir) return [];
  const docs: unknown[] = [];
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.yaml') || n.endsWith('.yml'))
    .sort()) {
    for (const d of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      const v = d.toJS();
      if (v) docs.push(v);
    }
  }
  return docs;
}

const CLUSTER_ADMIN_ROLE = {
  metadata: { name: 'cluster-admin', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
  rules: [
    { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
    { nonResourceURLs: ['*'], verbs: ['*'] },
  ],
};

export async function startSandbox(opts: SandboxOptions): Promise<Sandbox> {
  const host = opts.host ?? '127.0.0.1';
  const useTls = opts.tls ?? true;
  const certs = useTls ? makeServingCerts(opts.name, [host]) : undefined;
  const caPem = certs?.caPem;
  const adminToken = opts.adminToken ?? randomBytes(24).toString('base64url');

  const store = new ObjectStore(opts.watchWindow ?? 10_000);
  const registry = new Registry();
  const services = new ServiceAllocations(opts.serviceCidr ?? '10.96.0.0/12');
  const policyIndex = new PolicyIndex(store);
  const ops = new RestOps(
    store,
    registry,
    services,
    { allowLoopbackEndpoints: opts.allowLoopbackEndpoints ?? false },
    new ValidatingAdmissionPolicies(store, policyIndex),
  );
  const controllers = new SystemControllers(ops, store, registry, caPem ?? '');
  const gc = new GarbageCollector(ops, store, registry);
  const guard = (fn: () => void) => {
    try {
      fn();
    } catch {
      // A controller failure must never fail the write that triggered it.
    }
  };
  store.subscribe((ev) => {
    policyIndex.onEvent(ev);
    guard(() => controllers.onEvent(ev));
    guard(() => gc.onEvent(ev));
  });
  const auth = new Auth(store, controllers);
  auth.addToken(adminToken, {
    username: 'kubernetes-admin',
    groups: ['kubeadm:cluster-admins'],
    rules: 'admin',
  });
  const watches = new WatchHub(store, opts.bookmarkIntervalMs ?? 1000);
  const faultState = new FaultState();
  let requests = 0;
  let writes = 0;

  // What a fresh kubeadm cluster has: the four system namespaces, the kubernetes Service, cluster-admin.
  const rt = (group: string, plural: string) => registry.byKey(resourceKey(group, plural))!;
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    ops.create(rt('', 'namespaces'), 'v1', undefined, { metadata: { name: ns } });
  }
  ops.create(rt('', 'services'), 'v1', 'default', {
    metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { clusterIP: services.firstAddress(), ports: [{ name: 'https', port: 443, targetPort: 6443 }] },
  });
  ops.create(rt('rbac.authorization.k8s.io', 'clusterroles'), 'v1', undefined, CLUSTER_ADMIN_ROLE);
  if (opts.loadCrds ?? true) {
    for (const doc of loadCrdDocuments()) {
      ops.create(rt('apiextensions.k8s.io', 'customresourcedefinitions'), 'v1', undefined, doc);
    }
  }

  let port = opts.port ?? 0;
  const listener = new SandboxListener(
    {
      registry,
      ops,
      auth,
      watches,
      faults: faultState,
      countWrite: () => {
        writes++;
      },
      countRequest: () => {
        requests++;
      },
      serverAddress: () => hostPort(host, port),
      pods: { allowLoopback: opts.allowLoopbackEndpoints ?? false, logSources: opts.podLogs },
    },
    certs,
  );
  port = await listener.listen(host, port);
  const watchSockets = watchConnections(listener.server);
  const resetWatches = () => {
    // Destroyed before the watches end: an end() first would send their clean last chunk.
    for (const s of watchSockets) s.destroy();
    watches.dropAll();
  };
  const url = `${useTls ? 'https' : 'http'}://${hostPort(host, port)}`;
  let closed = false;

  const sandbox: Sandbox = {
    name: opts.name,
    url,
    caPem,
    adminToken,
    addToken: (token, user) => auth.addToken(token, user),
    kubeconfig: (k = {}) => {
      const entry: KubeconfigEntry = {
        cluster: opts.name,
        user: k.user ?? `${opts.name}-admin`,
        context: k.context ?? opts.name,
        server: url,
        caPem,
        token: k.token ?? adminToken,
      };
      return renderKubeconfig([entry]);
    },
    faults: {
      dropWatches: () => watches.dropAll(),
      resetWatches,
      setDelay: (ms) => {
        faultState.delayMs = Math.max(0, ms);
      },
      failNext: (n, status) => faultState.failNext(n, status),
      goOffline: async () => {
        watches.dropAll();
        await listener.stop();
      },
      goOnline: async () => {
        if (closed || listener.server.listening) return;
        await listener.listen(host, port);
      },
      expireBoundTokens: () => controllers.expireBoundTokens(),
      snapshot: () => store.snapshot(),
      restore: (snap, o = {}) => {
        const servicesBefore = store.list(SERVICES);
        store.restore(snap, o.bumpRevision);
        // What kube-apiserver keeps beside etcd, rebuilt from it as a restarted one does.
        reallocate(services, servicesBefore, store.list(SERVICES));
        policyIndex.invalidate();
        resetWatches();
      },
    },
    stats: () => ({ requests, writes, openWatches: watches.open }),
    close: async () => {
      closed = true;
      watches.dropAll();
      await listener.stop();
    },
  };
  return sandbox;
}

const SERVICES = resourceKey('', 'services');

/**
 * The allocations of `after`'s Services in place of `before`'s: kube's ClusterIP and NodePort
 * repair loops after a restore (what the restored Services hold is held, nothing else).
 */
function reallocate(services: ServiceAllocations, before: KObj[], after: KObj[]): void {
  for (const s of before) services.release(s);
  // A clone: allocate() settles fields of what it is given; the stored objects stay as restored.
  for (const s of after) services.allocate(structuredClone(s), undefined);
}

/** The connections carrying a watch now (a watch holds its HTTP/1.1 connection to itself). */
function watchConnections(server: {
  on(event: 'request', fn: (req: IncomingMessage, res: ServerResponse) => void): unknown;
}): ReadonlySet<Socket> {
  const open = new Set<Socket>();
  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const watch = url.searchParams.get('watch');
    // ?watch=1, or the deprecated /api/v1/watch/... form.
    if (watch !== '1' && watch !== 'true' && !/^\/apis?\/(?:[^/]+\/)?[^/]+\/watch\//.test(url.pathname))
      return;
    open.add(req.socket);
    res.once('close', () => open.delete(req.socket));
  });
  return open;
}

/** One kubeconfig holding every sandbox (a context per sandbox, named after it); current = first. */
export function mergeKubeconfigs(sandboxes: Sandbox[]): string {
  const entries: KubeconfigEntry[] = sandboxes.map((s) => {
    const cfg = parseYaml(s.kubeconfig()) as {
      clusters: Array<{ cluster: { server: string } }>;
      users: Array<{ name: string; user: { token: string } }>;
    };
    return {
      cluster: s.name,
      user: cfg.users[0]!.name,
      context: s.name,
      server: cfg.clusters[0]!.cluster.server,
      caPem: s.caPem,
      token: cfg.users[0]!.user.token,
    };
  });
  return renderKubeconfig(entries);
}
