/**
 * The lab's stand-in for the ReplicaSet controller and the kubelet's status updates: for a
 * Deployment whose replicas the lab runs (as processes or in-process servers), one Pod per replica
 * built from the pod template, reported Running and Ready with the replica's address as its pod IP,
 * and the Deployment's status counting them. So `kubectl get pods,deploy`, `kubectl logs
 * deploy/isthmus-gateway` and the API server's pod proxy (`isthmus gateways`) work in the lab as in
 * a real cluster.
 */
import { createHash } from 'node:crypto';
import type { KubeClient } from '../../kube/client.js';
import { isNotFound } from '../../kube/errors.js';
import { createInformer, type Informer } from '../../kube/informer.js';
import { labelSelectorToString } from '../../kube/label-selector.js';
import { R } from '../../kube/resources.js';
import type { V1LabelSelector, V1Pod } from '../../kube/types.js';

/** A Deployment's pod template, as far as the lab makes pods of it. */
export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: V1Pod['spec'];
}

interface LabDeployment {
  metadata?: { generation?: number };
  spec?: { selector?: V1LabelSelector; template?: PodTemplate };
}

// The alphabet kube uses for generated name suffixes (no vowels, no look-alike characters).
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function encode(seed: string, length: number): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[digest[i]! % ALPHABET.length];
  return out;
}

/** `pod-template-hash`, derived from the template: stable across lab restarts. */
export function templateHash(template: unknown): string {
  return encode(JSON.stringify(template), 10);
}

/** What the ReplicaSet's part needs to know of a pod it finds. */
export interface ExistingPod {
  name: string;
  ip: string | undefined;
  terminating: boolean;
}

/**
 * The pod names of a template's replicas, one per address (the ReplicaSet's part): a live pod of
 * the template at the replica's address keeps its name; a missing replica gets the first of its
 * names that no pod holds and none of `retired` (names its earlier pods had), so a replacement never
 * waits for a pod still terminating under its name, nor is named as a pod gone before (the
 * ReplicaSet's random names never repeat). Derived from the template and the replica's index, so a
 * fresh lab has the same names.
 */
export function planPodNames(
  deployment: string,
  template: unknown,
  replicaIPs: readonly string[],
  existing: readonly ExistingPod[] = [],
  retired: Iterable<string> = [],
): { hash: string; names: string[] } {
  const hash = templateHash(template);
  const prefix = `${deployment}-${hash}-`;
  const taken = new Set([...existing.map((p) => p.name), ...retired]);
  const names: string[] = [];
  for (const [i, ip] of replicaIPs.entries()) {
    const live = existing.find(
      (p) => !p.terminating && p.ip === ip && p.name.startsWith(prefix) && !names.includes(p.name),
    );
    if (live) {
      names.push(live.name);
      continue;
    }
    // One more candidate than there are names taken: at least one of them is free.
    for (let attempt = 0; attempt <= taken.size; attempt++) {
      const name = prefix + encode(attempt === 0 ? `${hash}/${i}` : `${hash}/${i}/${attempt}`, 5);
      if (!taken.has(name) && !names.includes(name)) {
        names.push(name);
        break;
      }
    }
  }
  return { hash, names };
}

/** The Deployment's selector as a query, its matchExpressions included; `null` selects nothing. */
function selectorOf(d: LabDeployment): string | null {
  return labelSelectorToString(d.spec?.selector);
}

/**
 * What the kubelet knows of a pod's (single-process) container: running and ready, or waiting to be
 * restarted after it terminated. Defaults: a first run, ready.
 */
export interface ContainerRuntime {
  ready: boolean;
  restartCount: number;
  startedAt?: Date;
  /** Set while the container waits for its restart (kubelet: CrashLoopBackOff). */
  waiting?: { reason: string; message: string };
  lastTerminated?: { exitCode: number | null; signal: string | null; startedAt: Date; finishedAt: Date };
}

const RUNNING: ContainerRuntime = { ready: true, restartCount: 0 };

/** The terminated state as the kubelet words it (a signal shows as 128 + its number, reason Error). */
function terminated(t: NonNullable<ContainerRuntime['lastTerminated']>) {
  const signals: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGABRT: 6, SIGSEGV: 11 };
  const exitCode = t.exitCode ?? 128 + (signals[t.signal ?? ''] ?? 0);
  return {
    terminated: {
      exitCode,
      ...(t.signal ? { signal: signals[t.signal] ?? 0 } : {}),
      reason: exitCode === 0 ? 'Completed' : 'Error',
      startedAt: t.startedAt.toISOString(),
      finishedAt: t.finishedAt.toISOString(),
    },
  };
}

/**
 * As the kubelet reports the pod (timestamps as the JSON strings the API carries); without `ip`, a
 * pod whose container the lab does not start (its address is the running replica's).
 */
function podStatus(
  pod: V1Pod,
  ip: string | undefined,
  hostIP: string,
  rt: ContainerRuntime,
): Record<string, unknown> {
  const now = new Date().toISOString();
  const started = (rt.startedAt ?? new Date()).toISOString();
  const ready = rt.ready ? 'True' : 'False';
  const conditions: [string, string][] = [
    ['PodReadyToStartContainers', 'True'],
    ['Initialized', 'True'],
    ['Ready', ready],
    ['ContainersReady', ready],
    ['PodScheduled', 'True'],
  ];
  return {
    phase: 'Running',
    hostIP,
    hostIPs: [{ ip: hostIP }],
    ...(ip === undefined ? {} : { podIP: ip, podIPs: [{ ip }] }),
    startTime: pod.status?.startTime ?? now,
    qosClass: 'BestEffort',
    conditions: conditions.map(([type, status]) => ({ type, status, lastTransitionTime: now })),
    containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
      name: c.name,
      image: c.image ?? '',
      imageID: '',
      ready: rt.ready,
      started: rt.waiting === undefined,
      restartCount: rt.restartCount,
      state: rt.waiting ? { waiting: rt.waiting } : { running: { startedAt: started } },
      ...(rt.lastTerminated ? { lastState: terminated(rt.lastTerminated) } : {}),
    })),
  };
}

export interface LabNode {
  name: string;
  ip: string;
}

function existingPod(p: V1Pod): ExistingPod {
  return {
    name: p.metadata?.name ?? '',
    ip: p.status?.podIP,
    terminating: Boolean(p.metadata?.deletionTimestamp),
  };
}

export interface SyncOptions {
  /** How the replicas' containers are (default: a first run, ready). */
  runtime?: ContainerRuntime;
  /** Names the Deployment's earlier pods had, which a new pod does not take (planPodNames). */
  retired?: Iterable<string>;
  /**
   * The template the replicas' pods are made from where it is not the Deployment's now: the old
   * ReplicaSet's, whose pod serves on while a rollout is not done (or cannot be: `blocked`).
   */
  template?: PodTemplate;
  /**
   * Why the Deployment's template cannot start, as the kubelet's CreateContainerConfigError: one pod
   * of it beside the replicas, waiting, with no address (each address is a running replica's), as
   * a rolling update's new ReplicaSet has while its pod cannot start.
   */
  blocked?: string;
}

/** The pod of a template that cannot start: the live one keeps its name, else a name no pod had. */
function blockedPodName(
  deployment: string,
  template: PodTemplate,
  existing: readonly ExistingPod[],
  taken: Iterable<string>,
): string {
  // It has no address: matched as the one replica at ''.
  const addressless = existing.map((p) => ({ ...p, ip: p.ip ?? '' }));
  return planPodNames(deployment, template, [''], addressless, taken).names[0]!;
}

/**
 * Makes the Pods of `namespace/deployment` match `replicaIPs` (one Ready pod per address, in order)
 * and writes the Deployment's replica counts. Pods the selector matches beyond those go, as a
 * ReplicaSet scaling down would delete them.
 */
export async function syncDeploymentPods(
  client: KubeClient,
  namespace: string,
  deployment: string,
  replicaIPs: string[],
  node: LabNode,
  { runtime = RUNNING, retired = [], template: replicaTemplate, blocked }: SyncOptions = {},
): Promise<V1Pod[]> {
  const d = await client.get<LabDeployment>(R.deployments, namespace, deployment);
  const current = d?.spec?.template;
  const template = replicaTemplate ?? current;
  const selector = d ? selectorOf(d) : null;
  // An empty selector would select every pod of the namespace (the API server refuses one anyway).
  if (!d || !current || !template || selector === null) return [];
  const existing = await client.list<V1Pod>(R.pods, { namespace, labelSelector: selector });
  const found = existing.items.map(existingPod);
  const { hash, names } = planPodNames(deployment, template, replicaIPs, found, retired);
  const stuck =
    blocked === undefined ? undefined : blockedPodName(deployment, current, found, [...retired, ...names]);
  // The lab's own deletions (a scale down, an old template) come after the replica has stopped, so
  // the kubelet's final delete (grace 0) follows the ReplicaSet's at once. A pod that is already
  // terminating is its kubelet's to finish.
  for (const p of existing.items) {
    const name = p.metadata?.name ?? '';
    if (!names.includes(name) && name !== stuck && !p.metadata?.deletionTimestamp)
      await client.delete(R.pods, namespace, name, { gracePeriodSeconds: 0 });
  }
  const write = async (
    name: string,
    t: PodTemplate,
    h: string,
    ip: string | undefined,
    rt: ContainerRuntime,
  ) => {
    let pod = await client.get<V1Pod>(R.pods, namespace, name);
    pod ??= await client.create<V1Pod>(R.pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace,
        labels: { ...t.metadata?.labels, 'pod-template-hash': h },
        ...(t.metadata?.annotations ? { annotations: t.metadata.annotations } : {}),
      },
      spec: { ...t.spec!, nodeName: node.name },
    });
    return client.patchStatus<V1Pod>(
      R.pods,
      namespace,
      name,
      { status: podStatus(pod, ip, node.ip, rt) },
      'merge',
    );
  };
  const now = new Date().toISOString();
  // A runtime other than a plain first run is news even for a pod already at its address.
  const news = runtime !== RUNNING;
  const written: V1Pod[] = [];
  for (const [i, name] of names.entries()) {
    const same = existing.items.some((p) => p.metadata?.name === name && p.status?.podIP === replicaIPs[i]);
    if (!same || news) written.push(await write(name, template, hash, replicaIPs[i], runtime));
  }
  if (stuck !== undefined) {
    const waiting = { reason: 'CreateContainerConfigError', message: blocked! };
    written.push(
      await write(stuck, current, templateHash(current), undefined, {
        ready: false,
        restartCount: 0,
        waiting,
      }),
    );
  }
  const updated = (hash === templateHash(current) ? replicaIPs.length : 0) + (stuck ? 1 : 0);
  const pods = replicaIPs.length + (stuck ? 1 : 0);
  const ready = runtime.ready ? replicaIPs.length : 0;
  const counts = {
    ...(pods > 0 ? { replicas: pods } : {}),
    ...(updated > 0 ? { updatedReplicas: updated } : {}),
    ...(ready > 0 ? { readyReplicas: ready, availableReplicas: ready } : {}),
  };
  const available = ready > 0 || (d.spec as { replicas?: number }).replicas === 0;
  await client.patchStatus(
    R.deployments,
    namespace,
    deployment,
    {
      status: {
        observedGeneration: d.metadata?.generation ?? 1,
        // A merge patch sets absent counts to null, which is how kube omits zeros.
        replicas: null,
        updatedReplicas: null,
        readyReplicas: null,
        availableReplicas: null,
        ...counts,
        conditions: [
          {
            type: 'Available',
            status: available ? 'True' : 'False',
            reason: available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
            message: available
              ? 'Deployment has minimum availability.'
              : 'Deployment does not have minimum availability.',
            lastUpdateTime: now,
            lastTransitionTime: now,
          },
        ],
      },
    },
    'merge',
  );
  return written;
}

/**
 * The ReplicaSet controller's and the kubelet's part for a Deployment the lab runs in-process: a
 * pod being deleted has no process of its own to stop, so the kubelet's final delete (grace 0)
 * follows at once; once it is gone, `resync` writes the pods again. The lab's own deletions (a
 * scale down) resync to the same state.
 */
export function keepPods(
  client: KubeClient,
  namespace: string,
  labelSelector: string,
  resync: () => void,
): Informer<V1Pod> {
  const pods = createInformer<V1Pod>(client, R.pods, { namespace, labelSelector });
  pods.onEvent((e) => {
    if (e.type === 'delete') resync();
    else if (e.object.metadata?.deletionTimestamp)
      void finalDelete(client, namespace, e.object.metadata.name!);
  });
  pods.start();
  return pods;
}

/**
 * The kubelet's final delete (grace 0), retried until the pod is gone: a failed attempt, dropped,
 * left the pod Terminating for its whole grace period, and `kubectl delete` waiting that long.
 */
export async function finalDelete(client: KubeClient, namespace: string, name: string): Promise<void> {
  for (let attempt = 0; attempt < FINAL_DELETE_ATTEMPTS; attempt++) {
    try {
      await client.delete(R.pods, namespace, name, { gracePeriodSeconds: 0 });
      return;
    } catch (err) {
      if (isNotFound(err)) return;
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2_000)));
    }
  }
}
const FINAL_DELETE_ATTEMPTS = 15;
