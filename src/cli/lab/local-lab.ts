/**
 * `isthmus lab up` without Docker: a sandbox API server per cluster (east and west by default, up
 * to five with `--clusters`), and per cluster the real identity, gateway and controller processes,
 * each cluster linked to every other, with podinfo in every cluster (exported from west and from
 * every cluster after it), a frontend in east and a failover TrafficSplit — the story of the kind
 * lab, on loopback addresses of this one host. The parts go by position: the first cluster plays
 * east's, the second west's (topology.ts).
 */

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { IsthmusError } from '../../errors.js';
import { exists, loadCertificates, writeCertificates } from '../../identity/files.js';
import { CRL_BUNDLE_FILE } from '../../identity/revoke.js';
import { KubeClient } from '../../kube/client.js';
import { createInformer } from '../../kube/informer.js';
import {
  EXPORTED_LABEL,
  IDENTITY_TOKEN_AUDIENCE,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import { requestServiceAccountToken } from '../../kube/token-request.js';
import type { KubeObject, V1EndpointSlice, V1Secret, V1Service } from '../../kube/types.js';
import { mergeKubeconfigs, type PodLogSource, type Sandbox, startSandbox } from '../../sandbox/index.js';
import { waitFor } from '../../wait-for.js';
import { allowManifests, tokenSecretName } from '../link/allow.js';
import { gatewayAddressesOf, linkManifestsInApplyOrder, tokenOf } from '../link/render.js';
import { applyObjects } from './apply-objects.js';
import { bootstrapCluster, labInstallOptions, serviceAccountToken } from './bootstrap.js';
import { type RunningServer, startFrontend } from './demo-apps.js';
import { demoObjects } from './demo-objects.js';
import { LabDeploymentKubelet } from './lab-deployments.js';
import { LabEndpointSliceController } from './lab-endpointslices.js';
import { LabKubelet } from './lab-kubelet.js';
import { LabLoadBalancer } from './lab-load-balancer.js';
import { keepPods, syncDeploymentPods } from './lab-pods.js';
import { inProse } from './lab-report.js';
import { type LabState, labStarts, labUpConflict, stateFile, writeLabState } from './lab-state.js';
import { type LabProcess, ProcessGroup } from './processes.js';
import type { SystemPart } from './system-argv.js';
import { SystemKubelet } from './system-kubelet.js';
import { LAB_NAMESPACE, type LabCluster, labNode, labTopology, parseLabClusters } from './topology.js';

export interface LocalLabOptions {
  dir: string;
  /** Third octet of the first cluster's loopback /24; each next cluster uses the next one. */
  base: number;
  /** The clusters, in order (default LAB_CLUSTERS: east, west); parseLabClusters checks a list. */
  clusters?: readonly string[];
  trustDomain: string;
  /**
   * Gateways with `--dial-pod-ips-only`, installed as `--gateway-dial-pod-ips-only` renders it: the
   * lab's podinfo replicas are Pods at the addresses its slices list, so they are dialled as before.
   */
  gatewayDialPodIPsOnly?: boolean;
  progress: (line: string) => void;
  /** What happens later, while the lab runs (a process exited and is restarted, ...). */
  notice: (line: string) => void;
  /**
   * Aborted (Ctrl-C, SIGTERM) while the lab starts: its processes are stopped at once, and the
   * start stops everything else it began and rejects with the abort reason.
   */
  signal?: AbortSignal;
}

export interface RunningLab {
  state: LabState;
  stop(): Promise<void>;
}

async function httpOk(url: string): Promise<true | undefined> {
  const res = await request(url, { headersTimeout: 2000, bodyTimeout: 2000 });
  await res.body.dump();
  return res.statusCode === 200 ? true : undefined;
}

async function ensureCertificates(dir: string, trustDomain: string, names: string[]) {
  try {
    return await loadCertificates({ dir, clusters: names });
  } catch (err) {
    if (!(err instanceof IsthmusError) || err.code !== 'CERT_INVALID') throw err;
    await writeCertificates({ outDir: dir, clusters: names, trustDomain, force: true });
    return loadCertificates({ dir, clusters: names });
  }
}

export async function startLocalLab(opts: LocalLabOptions): Promise<RunningLab> {
  const dir = resolve(opts.dir);
  const logs = join(dir, 'logs');
  await mkdir(logs, { recursive: true });
  // Checked here too: the parts below need two clusters at least.
  const topology = labTopology(opts.base, opts.clusters && parseLabClusters(opts.clusters.join(',')));
  const names = topology.map((c) => c.name);
  // The demo's parts (LAB_CLUSTERS): east's frontend and TrafficSplit in the first cluster, west's
  // exported podinfo in the second and in every further one.
  const [east, west] = topology as [LabCluster, LabCluster];
  const exporters = topology.slice(1);
  const closers: (() => Promise<void>)[] = [];
  // `kubectl logs` of the isthmus-system pods reads the processes' log files (from this run on).
  const logSources = new Map<string, PodLogSource>();
  let state: LabState | undefined;
  const kubelet = new SystemKubelet(opts.notice, (p) => {
    logSources.set(p.name, {
      file: p.logFile,
      offset: p.logOffset,
      ...(p.previous ? { previous: { offset: p.previous.logOffset, end: p.previous.logEnd } } : {}),
    });
    if (state) {
      Object.assign(state, processRecord(procs));
      void writeLabState(dir, state);
    }
  });
  const procs = new ProcessGroup(kubelet);
  kubelet.manage(procs);
  const stop = async () => {
    await procs.stopAll();
    await kubelet.stop();
    for (const close of closers.reverse()) await close().catch(() => undefined);
    // Only the lab that wrote the state removes it: a second `lab up` that failed leaves it alone.
    if (state) await rm(stateFile(dir), { force: true });
  };

  const signal = opts.signal;
  // Between steps and while waiting: an aborted start goes no further, its catch stops what it began.
  const checkpoint = () => signal?.throwIfAborted();
  const wait = abortableWait(signal);
  const onAbort = () => void procs.stopAll();
  signal?.addEventListener('abort', onAbort, { once: true });

  const conflict = await labUpConflict(dir);
  if (conflict) throw new IsthmusError('USAGE', conflict);
  const kubeconfig = join(dir, 'kubeconfig');
  state = {
    pid: process.pid,
    starting: true,
    kubeconfig,
    clusters: [],
    frontend: '',
    ...processRecord(procs),
  };
  await writeLabState(dir, state);
  try {
    const certs = await ensureCertificates(join(dir, 'certs'), opts.trustDomain, names);
    opts.progress(`certificates: trust anchor and issuers for ${names.join(', ')} in ${join(dir, 'certs')}`);
    // Revocations outlive a lab restart, as in a real cluster: say so, or a revoked lab looks broken.
    const crl = join(dir, 'certs', CRL_BUNDLE_FILE);
    if (await exists(crl)) {
      opts.progress(
        `certificates: ${crl} from \`isthmus certs revoke\` is in force (delete it to revoke nothing)`,
      );
    }

    const sandboxes = new Map<string, Sandbox>();
    const admins = new Map<string, KubeClient>();
    for (const c of topology) {
      checkpoint();
      const sandbox = await startSandbox({
        name: c.name,
        host: c.api.host,
        port: c.api.port,
        allowLoopbackEndpoints: true,
        podLogs: (req) => {
          const part = (req.labels['app.kubernetes.io/name'] ?? '').replace(/^isthmus-/, '');
          return req.namespace === SYSTEM_NAMESPACE ? logSources.get(`${c.name}/${part}`) : undefined;
        },
      }).catch((err: unknown) => {
        throw addressInUse(err, `${c.api.host}:${c.api.port}`);
      });
      closers.push(() => sandbox.close());
      sandboxes.set(c.name, sandbox);
      const admin = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
      closers.push(async () => admin.close());
      admins.set(c.name, admin);
      opts.progress(`cluster ${c.name}: API server ${sandbox.url} (sandbox, loopback endpoints admitted)`);
    }
    await writeFile(kubeconfig, mergeKubeconfigs([...sandboxes.values()]), { mode: 0o600 });

    for (const c of topology) {
      checkpoint();
      const issuer = certs.issuers.get(c.name)!;
      const podIPsOnly = opts.gatewayDialPodIPsOnly === true;
      await bootstrapCluster(
        admins.get(c.name)!,
        c,
        labInstallOptions(
          c,
          { anchorPem: certs.anchor.certPem, issuerCertPem: issuer.certPem, issuerKeyPem: issuer.keyPem },
          { gatewayDialPodIPsOnly: podIPsOnly, trustDomain: opts.trustDomain },
        ),
      );
      // From the install on, as kube-controller-manager: the isthmus-system Services get their
      // endpoints from the pods below, ready as the kubelet probes them.
      const endpointSlices = new LabEndpointSliceController(admins.get(c.name)!);
      await endpointSlices.start();
      closers.push(() => endpointSlices.stop());
      // As a cloud's controller: a gateway Service re-created later (a reinstall) gets its address again.
      const loadBalancer = new LabLoadBalancer(admins.get(c.name)!, c.gateway.host);
      await loadBalancer.start();
      closers.push(() => loadBalancer.stop());
      const started = await startClusterProcesses(c, sandboxes.get(c.name)!, admins.get(c.name)!, {
        procs,
        kubelet,
        dir,
      });
      for (const p of started) logSources.set(p.name, { file: p.logFile, offset: p.logOffset });
      Object.assign(state, processRecord(procs));
      await writeLabState(dir, state);
      opts.progress(
        `cluster ${c.name}: installed; identity, gateway${podIPsOnly ? ' (--dial-pod-ips-only)' : ''} and controller processes started`,
      );
    }
    for (const c of topology) {
      await waitForProcesses(c, wait);
      await registerSystemPods(c, kubelet);
      kubelet.watch(admins.get(c.name)!, c.name);
    }
    opts.progress(`identity, gateways and controllers ready in ${everyCluster(names)}`);

    // The demo's namespace in every cluster before any Link and any export: a cluster whose turn
    // came later saw the others' exports first, and its Links started with MissingNamespace
    // Warnings; made before the Links, every controller's namespace cache has it by their first sync.
    for (const c of topology)
      await applyObjects(admins.get(c.name)!, [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: LAB_NAMESPACE } },
      ]);
    for (const from of topology) {
      for (const to of topology) {
        if (from.name === to.name) continue;
        checkpoint();
        // As `isthmus allow` then `isthmus link --service-account-name`: an account per peer.
        const account = `${from.name}-reader`;
        await applyObjects(admins.get(to.name)!, allowManifests(account) as KubeObject[]);
        await applyObjects(
          admins.get(from.name)!,
          await linkObjects(to, sandboxes.get(to.name)!, admins.get(to.name)!, opts.trustDomain, account),
        );
        opts.progress(`link ${from.name} → ${to.name}`);
      }
    }

    for (const c of topology) {
      checkpoint();
      const admin = admins.get(c.name)!;
      await applyObjects(
        admin,
        demoObjects(
          c === east ? {} : { [EXPORTED_LABEL]: 'true' },
          c === east ? west.name : undefined,
          c === west,
        ),
      );
      const kubelet = new LabKubelet(admin, c, LAB_NAMESPACE, 'podinfo');
      await kubelet.start();
      closers.push(() => kubelet.stop());
      // Every other Deployment (a user's own, in any namespace): Ready pods, no process.
      const others = new LabDeploymentKubelet(admin, c, runByTheLab(c === east));
      await others.start();
      closers.push(() => others.stop());
    }
    const frontend = await startEastFrontend(east, admins.get(east.name)!, closers);
    opts.progress(
      `podinfo running in ${everyCluster(names)} (exported from ${inProse(exporters.map((c) => c.name))}); frontend in ${east.name} at ${frontend.url}`,
    );

    // Every cluster linked to every other: each exported podinfo is mirrored into all the others.
    for (const from of exporters) {
      const mirror = `podinfo-${from.name}`;
      const into = topology.filter((c) => c !== from);
      for (const c of into) await waitForReadyMirror(admins.get(c.name)!, mirror, c.name, wait);
      opts.progress(`${mirror} mirrored into ${inProse(into.map((c) => c.name))} and ready`);
    }

    // Replaced whole: no longer `starting`.
    state = {
      pid: process.pid,
      kubeconfig,
      clusters: topology.map((c) => ({
        name: c.name,
        api: sandboxes.get(c.name)!.url,
        gatewayAdmin: `http://${c.gateway.host}:${c.gateway.adminPort}`,
        controllerAdmin: `http://${c.controller.host}:${c.controller.adminPort}`,
        identity: `${c.identity.host}:${c.identity.port}`,
        identityHealth: `${c.identity.host}:${c.identity.healthPort}`,
        identityAdmin: `http://${c.identity.host}:${c.identity.adminPort}`,
      })),
      frontend: frontend.url,
      ...processRecord(procs),
    };
    checkpoint();
    await writeLabState(dir, state);
    signal?.removeEventListener('abort', onAbort);
    return { state, stop };
  } catch (err) {
    signal?.removeEventListener('abort', onAbort);
    await stop();
    throw err;
  }
}

type Wait = typeof waitFor;

/** "both clusters", or "all 3 clusters": what a progress line says of every cluster. */
function everyCluster(names: readonly string[]): string {
  return names.length === 2 ? 'both clusters' : `all ${names.length} clusters`;
}

/** Waits until `mirror` in `cluster` has a ready endpoint: its remote gateway answers probes. */
async function waitForReadyMirror(admin: KubeClient, mirror: string, cluster: string, wait: Wait) {
  await wait(
    `${mirror} to be mirrored into ${cluster} with a ready endpoint`,
    async () => {
      const slices = await admin.list<V1EndpointSlice>(R.endpointSlices, {
        namespace: LAB_NAMESPACE,
        labelSelector: `${SERVICE_NAME_LABEL}=${mirror}`,
      });
      return slices.items.some((s) => s.endpoints?.some((e) => e.conditions?.ready === true))
        ? true
        : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
}

/** What state.json says of the processes: their pids, and when each started (to tell a reused pid). */
function processRecord(procs: ProcessGroup): Pick<LabState, 'processes' | 'starts'> {
  const starts = labStarts(procs.starts());
  return { processes: procs.pids(), ...(starts ? { starts } : {}) };
}

/** waitFor that also ends, with the abort reason, once `signal` is aborted. */
function abortableWait(signal: AbortSignal | undefined): Wait {
  if (!signal) return waitFor;
  const aborted = Symbol('aborted');
  return async (what, check, opts) => {
    const got = await waitFor(what, async () => (signal.aborted ? aborted : await check()), opts);
    if (got === aborted) signal.throwIfAborted();
    return got as never;
  };
}

/** The lab's identity token lifetime: it plays no kubelet that would refresh the file. */
const LAB_IDENTITY_TOKEN_SECONDS = 30 * 24 * 3600;

/**
 * The isthmus-system processes of cluster `c`, each running what its Deployment declares with the
 * lab's own addresses, kubeconfig and files (system-argv.ts). Their pods first, as a cluster has
 * them before it runs their containers: each process starts with its pod's argv and environment
 * (POD_NAME: the controller's Lease holder prefix).
 */
async function startClusterProcesses(
  c: LabCluster,
  sandbox: Sandbox,
  admin: KubeClient,
  { procs, kubelet, dir }: { procs: ProcessGroup; kubelet: SystemKubelet; dir: string },
): Promise<LabProcess[]> {
  // Each process talks to the API as its own service account, so the installed RBAC is what it gets.
  const kubeconfigFor = async (part: SystemPart) => {
    const sa = `isthmus-${part}`;
    const token = await serviceAccountToken(admin, sa);
    const path = join(dir, `${c.name}-${sa}.kubeconfig`);
    await writeFile(path, sandbox.kubeconfig({ token, user: sa }), { mode: 0o600 });
    return path;
  };
  // What the install's projected volume holds: a token for the identity service only, which the
  // API server refuses. The kubelet would refresh it; a lab is over long before 30 days.
  const identityToken = await requestServiceAccountToken(admin, SYSTEM_NAMESPACE, 'isthmus-gateway', {
    audiences: [IDENTITY_TOKEN_AUDIENCE],
    expirationSeconds: LAB_IDENTITY_TOKEN_SECONDS,
  });
  const tokenFile = join(dir, `${c.name}-gateway.token`);
  await writeFile(tokenFile, identityToken.token, { mode: 0o600 });
  const hosts: Record<SystemPart, string> = {
    identity: c.identity.host,
    gateway: c.gateway.host,
    controller: c.controller.host,
  };
  const runs = await Promise.all(
    SYSTEM_PARTS.map(async (part) =>
      kubelet.admit(`${c.name}/${part}`, {
        admin,
        cluster: c.name,
        deployment: `isthmus-${part}`,
        host: hosts[part],
        node: labNode(c),
        lab: {
          part,
          cluster: c,
          kubeconfig: await kubeconfigFor(part),
          certs: join(dir, 'certs'),
          ...(part === 'gateway' ? { identityToken: tokenFile } : {}),
        },
      }),
    ),
  );
  // In order: identity serves before the gateway asks it for a certificate.
  return SYSTEM_PARTS.map((part, i) =>
    procs.start(`${c.name}/${part}`, runs[i]!.args!, join(dir, 'logs', `${c.name}-${part}.log`), {
      env: runs[i]!.env,
    }),
  );
}

/** The isthmus-system Deployments whose processes the lab runs (system-kubelet.ts). */
const SYSTEM_PARTS = ['identity', 'gateway', 'controller'] as const;

/**
 * The Deployments the lab runs processes or servers for: isthmus-system's, podinfo and (in the
 * first cluster) the frontend. Every other one gets its pods from LabDeploymentKubelet.
 */
function runByTheLab(hasFrontend: boolean): (namespace: string, name: string) => boolean {
  const system = new Set<string>(SYSTEM_PARTS.map((part) => `isthmus-${part}`));
  return (namespace, name) =>
    (namespace === SYSTEM_NAMESPACE && system.has(name)) ||
    (namespace === LAB_NAMESPACE && (name === 'podinfo' || (hasFrontend && name === 'frontend')));
}

/**
 * The isthmus-system pods as the kubelet would report them once their processes run: Running,
 * registered for restarts, and Ready while the process answers the readiness probe its Deployment
 * declares. Resolves once each is Ready.
 */
async function registerSystemPods(c: LabCluster, kubelet: SystemKubelet): Promise<void> {
  await Promise.all(SYSTEM_PARTS.map((part) => kubelet.register(`${c.name}/${part}`)));
}

/** EADDRINUSE, said so that the user knows what to do; any other error as it is. */
function addressInUse(err: unknown, address: string): unknown {
  if ((err as { code?: string }).code !== 'EADDRINUSE') return err;
  return new IsthmusError(
    'USAGE',
    `${address} is in use: another lab with the same --base (in another --dir), or another process; pick another --base`,
  );
}

async function waitForProcesses(c: LabCluster, wait: Wait): Promise<void> {
  await wait(
    `the ${c.name} gateway to be ready`,
    () => httpOk(`http://${c.gateway.host}:${c.gateway.adminPort}/ready`),
    { timeoutMs: 90_000, intervalMs: 100 },
  );
  await wait(
    `the ${c.name} controller to be ready`,
    () => httpOk(`http://${c.controller.host}:${c.controller.adminPort}/ready`),
    { timeoutMs: 90_000, intervalMs: 100 },
  );
}

/** What `isthmus link --context <to> --service-account-name <account>` prints, gathered as it does. */
async function linkObjects(
  to: LabCluster,
  sandbox: Sandbox,
  admin: KubeClient,
  trustDomain: string,
  account: string,
): Promise<KubeObject[]> {
  const svc = await admin.get<V1Service>(R.services, SYSTEM_NAMESPACE, 'isthmus-gateway');
  const gw = gatewayAddressesOf(svc, to.name);
  const secret = await waitFor(
    `the ${to.name} token of ${account}`,
    async () => {
      const s = await admin.get<V1Secret>(R.secrets, SYSTEM_NAMESPACE, tokenSecretName(account));
      return s?.data?.token ? s : undefined;
    },
    { timeoutMs: 5000, intervalMs: 100 },
  );
  return linkManifestsInApplyOrder({
    clusterName: to.name,
    trustDomain,
    clusterDomain: 'cluster.local',
    apiServer: sandbox.url,
    ...(sandbox.caPem ? { caData: Buffer.from(sandbox.caPem).toString('base64') } : {}),
    token: tokenOf(secret, to.name, account),
    serviceAccount: account,
    gateway: gw,
  });
}

async function startEastFrontend(
  c: LabCluster,
  admin: KubeClient,
  closers: (() => Promise<void>)[],
): Promise<RunningServer> {
  const services = createInformer<V1Service>(admin, R.services, { namespace: LAB_NAMESPACE });
  const slices = createInformer<V1EndpointSlice>(admin, R.endpointSlices, { namespace: LAB_NAMESPACE });
  for (const informer of [services, slices]) {
    informer.start();
    closers.push(() => informer.stop());
  }
  await Promise.all([services.synced, slices.synced]);
  // ISTHMUS_LAB_FRONTEND_KEEPALIVE_MS: for tests only (test/lab.test.ts), unset in normal use.
  const keepAliveMs = Number(process.env.ISTHMUS_LAB_FRONTEND_KEEPALIVE_MS);
  const frontend = await startFrontend({
    host: c.frontend.host,
    port: c.frontend.port,
    cluster: c.name,
    services,
    slices,
    ...(keepAliveMs > 0 ? { keepAliveMs } : {}),
  });
  closers.push(() => frontend.close());
  const sync = () => syncDeploymentPods(admin, LAB_NAMESPACE, 'frontend', [c.frontend.host], labNode(c));
  await sync();
  const pods = keepPods(admin, LAB_NAMESPACE, 'app=frontend', () => void sync().catch(() => undefined));
  closers.push(() => pods.stop());
  return frontend;
}
