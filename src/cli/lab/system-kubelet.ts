/**
 * The lab's kubelet for the isthmus-system processes (identity, gateway, controller), for what a
 * user does to them in a real cluster:
 * - a process that exits on its own is restarted by the ProcessGroup; its pod shows it meanwhile
 *   (not ready, waiting in CrashLoopBackOff, `lastState.terminated` with the exit code, the
 *   Deployment unavailable), and is Ready again with its restart count once the new run answers
 *   its readiness check. `kubectl logs --previous` reads the run that died.
 * - `kubectl scale deployment/isthmus-gateway --replicas=0` stops the process (SIGTERM, so the
 *   gateway drains) and deletes its pod; scaling back to 1 starts a fresh one. One replica at most:
 *   each process has one address in the lab.
 * - `kubectl delete pod` leaves the pod Terminating (the API server's graceful deletion): the
 *   replacement pod shows at once, not ready; the old run gets SIGTERM (SIGKILL past the pod's
 *   grace period), and once it has exited the old pod is deleted with grace 0, which ends the
 *   user's `kubectl delete`; then a fresh run starts. `kubectl rollout restart` (a new pod template)
 *   replaces the process the same way. As in a cluster with one replica, the old run is gone before
 *   the new one serves.
 * - readiness: each run's pod is Ready once the run answers the readiness probe its Deployment
 *   declares (the gateway's and the controller's `/ready` on their admin port, identity's gRPC
 *   health), probed at the pod's IP; from then on the probe runs every `periodSeconds`, and
 *   `failureThreshold` failures in a row make the pod not ready (`successThreshold` successes
 *   ready again), as the kubelet's prober does. The lab's EndpointSlice controller lists the pods
 *   in the isthmus-system Services' slices with that readiness, so a gateway that is not ready (no
 *   certificate) or scaled to 0 takes its endpoint with it, and the mirrors follow.
 * - environment: each run gets what its container declares from the downward API, resolved against
 *   its pod (downward-env.ts), so the controller's `POD_NAME` (its Lease holder prefix) is its pod's
 *   name. A pod is written before its first run starts, as the ReplicaSet creates it before the
 *   kubelet starts the container; the runs restarted in it keep its environment, a new pod (deleted,
 *   scaled to 0 and back, a new template) has a name none of the process's earlier pods had.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { KubeClient } from '../../kube/client.js';
import { EventRecorder, type EventType } from '../../kube/events.js';
import { createInformer, type Informer } from '../../kube/informer.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Pod } from '../../kube/types.js';
import { downwardEnv } from './downward-env.js';
import { type ContainerRuntime, type LabNode, syncDeploymentPods, templateHash } from './lab-pods.js';
import { type ProbedContainer, type ReadinessProbe, readinessProbe } from './probes.js';
import type { LabProcess, ProcessEvents, ProcessGroup, Termination } from './processes.js';

export interface SupervisedPod {
  admin: KubeClient;
  cluster: string;
  deployment: string;
  /** The process's address: its pod IP, which its Deployment's readiness probe is run against. */
  host: string;
  node: LabNode;
}

interface LabDeployment {
  spec?: { replicas?: number; template?: { spec?: { containers?: ProbedContainer[] } } };
  metadata?: { name?: string };
}

/** A pod the user deleted, Terminating until its run has stopped. */
interface Terminating {
  pod: V1Pod;
  graceMs: number;
}

/** The kubelet's default when a pod carries no grace (`terminationGracePeriodSeconds` defaults to 30). */
const DEFAULT_GRACE_SECONDS = 30;

/**
 * How long a new run is probed every FIRST_READY_INTERVAL_MS until it first answers (then at its
 * probe's period), and how long `register` waits for it: its pod stays not ready meanwhile.
 */
const READY_DEADLINE_MS = 90_000;
/**
 * How often a new run is probed until it first answers: the lab's shortcut (the kubelet waits its
 * `periodSeconds` between tries from the start), so a restarted process serves again at once.
 */
const FIRST_READY_INTERVAL_MS = 250;

const running = (p: LabProcess['child']) => p.exitCode === null && p.signalCode === null;

function lastTerminated(t: Termination): ContainerRuntime['lastTerminated'] {
  return { exitCode: t.exitCode, signal: t.signal, startedAt: t.startedAt, finishedAt: t.finishedAt };
}

export class SystemKubelet implements ProcessEvents {
  private procs: ProcessGroup | undefined;
  /** By process name (`east/gateway`). */
  private readonly pods = new Map<string, SupervisedPod>();
  /** Per process, so an exit, a restart and a scale update its pod in order. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly informers: Informer<LabDeployment | V1Pod>[] = [];
  private readonly recorders = new Map<KubeClient, EventRecorder>();
  /** Each process's Deployment's current pod-template-hash. */
  private readonly currentHash = new Map<string, string>();
  /** Uids of the terminating pods being stopped, so each is handled once and its final delete ignored. */
  private readonly stopping = new Set<string>();
  /** Per process, the readiness prober of its current run (aborted by the next one, or stop()). */
  private readonly probers = new Map<string, AbortController>();
  /** Per process's pod, every name its pods had: a new pod takes none of them (planPodNames). */
  private readonly podNames = new Map<SupervisedPod, Set<string>>();

  constructor(
    private readonly notice: (line: string) => void,
    /** A new run started (restart or scale up): its log offsets and pid changed. */
    private readonly onStart: (p: LabProcess) => void,
  ) {}

  manage(procs: ProcessGroup): void {
    this.procs = procs;
  }

  /**
   * A process's first pod, written before its first run starts (the ReplicaSet creates the pod,
   * then the kubelet starts its container), not ready. Resolves to the environment the pod's
   * container declares from the downward API, for the ProcessGroup to start the run with.
   */
  async admit(processName: string, pod: SupervisedPod): Promise<Record<string, string>> {
    this.pods.set(processName, pod);
    return this.newPod(pod);
  }

  /**
   * An admitted process's pod, written at once, not ready, as the kubelet reports a container that
   * started; Ready once its run answers its readiness probe, which is followed from then on.
   * Resolves once the pod is Ready (or the run exited first, or did not answer within
   * READY_DEADLINE_MS).
   */
  async register(processName: string): Promise<void> {
    const pod = this.pods.get(processName);
    const p = this.procs?.process(processName);
    if (!pod || !p) return;
    this.enqueue(processName, async () => {
      await this.write(pod, [pod.host], { ready: false, restartCount: p.restarts, startedAt: p.startedAt });
    });
    await this.probeRun(p);
  }

  /**
   * Follows the cluster's isthmus-system Deployments (replicas, pod template) and Pods (deleted by
   * a user): scale to zero and back, rollout restart, pod deletion.
   */
  watch(admin: KubeClient, cluster: string): void {
    const deployments = createInformer<LabDeployment>(admin, R.deployments, { namespace: SYSTEM_NAMESPACE });
    const processOf = (deployment: string | undefined) =>
      [...this.pods].find(([, p]) => p.cluster === cluster && p.deployment === deployment)?.[0];
    deployments.onEvent((e) => {
      const name = processOf(e.object.metadata?.name);
      if (e.type === 'delete' || !name) return;
      const hash = templateHash(e.object.spec?.template);
      const before = this.currentHash.get(name);
      this.currentHash.set(name, hash);
      const replicas = e.object.spec?.replicas ?? 1;
      if (before !== undefined && before !== hash && replicas > 0)
        this.replace(name, 'its pod template changed', true);
      else this.scale(name, replicas);
    });
    const pods = createInformer<V1Pod>(admin, R.pods, { namespace: SYSTEM_NAMESPACE });
    pods.onEvent((e) => {
      const name = processOf(e.object.metadata?.labels?.['app.kubernetes.io/name']);
      if (name) this.podChanged(name, e.type === 'delete', e.object);
    });
    for (const informer of [deployments, pods]) {
      informer.start();
      this.informers.push(informer);
    }
  }

  /**
   * A pod of a process changed: one that turns Terminating is stopped; one removed outright (a
   * forced delete, grace 0) is replaced too, if it was the current template's live pod. The lab's
   * own deletions (an old template's, a scale to zero's) come after the process stopped.
   */
  private podChanged(name: string, removed: boolean, pod: V1Pod): void {
    const uid = pod.metadata?.uid ?? '';
    if (removed) {
      if (this.stopping.delete(uid)) return;
      const current = pod.metadata?.labels?.['pod-template-hash'] === this.currentHash.get(name);
      if (current && !this.procs?.isPaused(name)) this.replace(name, 'its pod was deleted', false);
      return;
    }
    if (!pod.metadata?.deletionTimestamp || this.stopping.has(uid)) return;
    this.stopping.add(uid);
    const grace = pod.metadata.deletionGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
    this.replace(name, 'its pod was deleted', false, { pod, graceMs: grace * 1000 });
  }

  exited(p: LabProcess, t: Termination, backoffMs: number): void {
    const how = t.signal ? `signal ${t.signal}` : `code ${t.exitCode}`;
    this.notice(`${p.name} exited (${how}); restarting in ${backoffMs / 1000}s; see ${p.logFile}`);
    const pod = this.pods.get(p.name);
    if (!pod) return;
    const runtime: ContainerRuntime = {
      ready: false,
      restartCount: p.restarts,
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${backoffMs / 1000}s restarting failed container`,
      },
      lastTerminated: lastTerminated(t),
    };
    this.enqueue(p.name, async () => {
      const pods = await this.write(pod, [pod.host], runtime);
      await this.event(
        pod,
        pods,
        'Warning',
        'BackOff',
        (c, n) => `Back-off restarting failed container ${c} in pod ${n}`,
      );
    });
  }

  restarted(p: LabProcess): void {
    this.onStart(p);
    void this.probeRun(p);
  }

  /**
   * A new pod for the process: the old run gets SIGTERM, a fresh one starts, with the new pod's
   * environment. A stopped process (scaled to 0) stays stopped when its pod is deleted, but starts
   * with a template change that also asks for replicas. The new pod shows before the fresh run
   * starts, not ready until the run answers (as the ReplicaSet's replacement would), so the
   * Deployment is unavailable meanwhile and `kubectl rollout status` waits for it. A deleted pod is
   * replaced before the old run stops, and is removed (the kubelet's delete, grace 0) once the old
   * run has exited; on a template change the old pod stays until then, to carry the kubelet's
   * Killing event.
   */
  private replace(name: string, why: string, startIfStopped: boolean, deleted?: Terminating): void {
    const procs = this.procs;
    const pod = this.pods.get(name);
    if (!procs || !pod) return;
    this.enqueue(name, async () => {
      const paused = procs.isPaused(name);
      if (paused && !startIfStopped) return this.finish(name, deleted);
      let env = startIfStopped ? undefined : await this.nextPod(name, pod);
      if (!paused) await this.stopContainer(procs, name, deleted);
      await this.finish(name, deleted);
      env ??= await this.nextPod(name, pod);
      const p = procs.resume(name, env);
      this.onStart(p);
      this.notice(`${name} replaced: ${why}`);
      void this.probeRun(p);
    });
  }

  /**
   * The pod of a process's next run, written not ready (a fresh run: resume resets the restart
   * count), and the environment its container declares from the downward API.
   */
  private async newPod(pod: SupervisedPod): Promise<Record<string, string>> {
    const written = await this.write(pod, [pod.host], { ready: false, restartCount: 0 });
    const own = written.find((p) => p.status?.podIP === pod.host);
    return own ? downwardEnv(own) : {};
  }

  /** newPod, for a run that starts anyway: one whose pod the API refused runs without its env. */
  private nextPod(name: string, pod: SupervisedPod): Promise<Record<string, string>> {
    return this.newPod(pod).catch((err: unknown) => {
      this.notice(
        `${name}: could not write its new pod, starting it without the pod's environment: ${err instanceof Error ? err.message : String(err)}`,
      );
      return {};
    });
  }

  /** The kubelet's last word on a terminating pod whose run has stopped: delete it, grace 0. */
  private async finish(name: string, deleted: Terminating | undefined): Promise<void> {
    const admin = this.pods.get(name)?.admin;
    const podName = deleted?.pod.metadata?.name;
    if (admin && podName) await admin.delete(R.pods, SYSTEM_NAMESPACE, podName, { gracePeriodSeconds: 0 });
  }

  private scale(name: string, replicas: number): void {
    const procs = this.procs;
    const pod = this.pods.get(name);
    if (!procs || !pod) return;
    this.enqueue(name, async () => {
      if (replicas === 0 && !procs.isPaused(name)) {
        await this.stopContainer(procs, name);
        this.notice(`${name} stopped: deployment/${pod.deployment} scaled to 0`);
        await this.write(pod, [], { ready: false, restartCount: 0 });
      } else if (replicas > 0 && procs.isPaused(name)) {
        // The new pod shows first, not ready until the run answers its probe; the run gets its env.
        const p = procs.resume(name, await this.nextPod(name, pod));
        this.onStart(p);
        this.notice(`${name} started: deployment/${pod.deployment} scaled to ${replicas}`);
        void this.probeRun(p);
      }
    });
  }

  /**
   * SIGTERM to the process (SIGKILL past the grace: a deleted pod's own, else the lab's default),
   * after the kubelet's Killing event on the pod being stopped.
   */
  private async stopContainer(procs: ProcessGroup, name: string, deleted?: Terminating): Promise<void> {
    const pod = this.pods.get(name);
    if (pod) {
      const pods = deleted ? [deleted.pod] : await this.currentPods(pod);
      await this.event(pod, pods, 'Normal', 'Killing', (c) => `Stopping container ${c}`);
    }
    await procs.pause(name, deleted?.graceMs);
  }

  /** The readiness probe of the process's container as its Deployment declares it now. */
  private async probeOf(pod: SupervisedPod): Promise<ReadinessProbe> {
    const d = await pod.admin.get<LabDeployment>(R.deployments, SYSTEM_NAMESPACE, pod.deployment);
    return readinessProbe(d?.spec?.template?.spec?.containers?.[0] ?? {}, pod.host);
  }

  /** The pod of a run as the kubelet reports it, ready or not. */
  private runtimeOf(p: LabProcess, ready: boolean): ContainerRuntime {
    const runtime: ContainerRuntime = { ready, restartCount: p.restarts, startedAt: p.startedAt };
    if (p.previous) runtime.lastTerminated = lastTerminated(p.previous);
    return runtime;
  }

  /**
   * The kubelet's readiness prober for the run `p` has now, beside the process's chain (a run that
   * never answers holds up no scale or replacement). Until the run first answers it is probed
   * every FIRST_READY_INTERVAL_MS (the lab's shortcut, for READY_DEADLINE_MS at most), then every
   * `periodMs`; `successThreshold` successes in a row make the pod Ready (the first time with the
   * kubelet's Started event), `failureThreshold` failures in a row not ready again, each failure
   * of a run that was ready an Unhealthy event, as the kubelet records them. Ends with the run (an
   * exit, a scale to 0, a replacement: what ended it writes its pod) or stop(). Resolves once the
   * pod is first Ready, or the prober ended before, or READY_DEADLINE_MS passed without.
   */
  private probeRun(p: LabProcess): Promise<void> {
    const pod = this.pods.get(p.name);
    if (!pod) return Promise.resolve();
    this.probers.get(p.name)?.abort();
    const stop = new AbortController();
    this.probers.set(p.name, stop);
    const child = p.child;
    const current = () => !stop.signal.aborted && p.child === child && running(child);
    const startedAt = Date.now();
    let firstReady: () => void = () => undefined;
    const first = new Promise<void>((resolve) => {
      firstReady = resolve;
    });
    const loop = async () => {
      // The Deployment is read from the API server, which may fail for a moment: ask again, as
      // the kubelet keeps a pod it cannot judge rather than give up on it.
      let probe: ReadinessProbe | undefined;
      while (probe === undefined && current()) {
        probe = await this.probeOf(pod).catch(() => undefined);
        if (probe === undefined) await delay(FIRST_READY_INTERVAL_MS, undefined, { signal: stop.signal });
      }
      if (probe === undefined) return;
      let ready = false;
      let everReady = false;
      let failures = 0;
      let successes = 0;
      while (current()) {
        const failure = await probe.check();
        if (!current()) return;
        if (failure === undefined) {
          failures = 0;
          successes++;
        } else {
          successes = 0;
          failures++;
          // An event the API server fails to take is lost, not the prober.
          if (everReady)
            await this.currentPods(pod)
              .then((pods) =>
                this.event(pod, pods, 'Warning', 'Unhealthy', () => `Readiness probe failed: ${failure}`),
              )
              .catch(() => undefined);
        }
        const next: boolean = ready ? failures < probe.failureThreshold : successes >= probe.successThreshold;
        if (next !== ready) {
          ready = next;
          const firstTime = ready && !everReady;
          everReady ||= ready;
          if (!firstTime)
            this.notice(ready ? `${p.name} is ready again` : `${p.name} is not ready: ${failure}`);
          const now = ready;
          await this.enqueue(p.name, async () => {
            // A run that ended meanwhile has its pod written by what ended it.
            if (!current()) return;
            const pods = await this.write(pod, [pod.host], this.runtimeOf(p, now));
            if (!firstTime) return;
            await this.event(pod, pods, 'Normal', 'Started', (c) => `Started container ${c}`);
            if (p.restarts > 0) this.notice(`${p.name} is ready again (restart ${p.restarts})`);
          });
          if (firstTime) firstReady();
        }
        const starting = !everReady && Date.now() - startedAt < READY_DEADLINE_MS;
        if (!starting) firstReady();
        await delay(starting ? FIRST_READY_INTERVAL_MS : probe.periodMs, undefined, { signal: stop.signal });
      }
    };
    loop()
      .catch((err: unknown) => {
        if (!stop.signal.aborted)
          this.notice(
            `${p.name}: readiness probe stopped: ${err instanceof Error ? err.message : String(err)}`,
          );
      })
      .finally(firstReady);
    return first;
  }

  private async write(pod: SupervisedPod, ips: string[], runtime: ContainerRuntime): Promise<V1Pod[]> {
    const retired = this.podNames.get(pod) ?? new Set<string>();
    this.podNames.set(pod, retired);
    const written = await syncDeploymentPods(pod.admin, SYSTEM_NAMESPACE, pod.deployment, ips, pod.node, {
      runtime,
      retired,
    });
    for (const p of written) retired.add(p.metadata?.name ?? '');
    return written;
  }

  /** An event on the pods, worded as the kubelet words it (`kubectl describe pod` shows them). */
  private async event(
    pod: SupervisedPod,
    pods: V1Pod[],
    type: EventType,
    reason: string,
    message: (container: string, pod: string) => string,
  ): Promise<void> {
    let recorder = this.recorders.get(pod.admin);
    if (!recorder) {
      recorder = new EventRecorder(pod.admin, { component: 'kubelet', host: pod.node.name });
      this.recorders.set(pod.admin, recorder);
    }
    for (const p of pods) {
      const container = p.spec?.containers?.[0]?.name ?? '';
      await recorder.record(
        { apiVersion: 'v1', kind: 'Pod', ...p },
        type,
        reason,
        message(container, p.metadata?.name ?? ''),
      );
    }
  }

  /** The pods of a process as they are now (to hang an event on before they change). */
  private async currentPods(pod: SupervisedPod): Promise<V1Pod[]> {
    const { items } = await pod.admin.list<V1Pod>(R.pods, {
      namespace: SYSTEM_NAMESPACE,
      labelSelector: `app.kubernetes.io/name=${pod.deployment}`,
    });
    return items;
  }

  /** Runs `task` after the process's earlier ones; resolves once it has run (an error is noticed). */
  private enqueue(name: string, task: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(name) ?? Promise.resolve()).then(task).catch((err: unknown) => {
      this.notice(`${name}: could not update its pod: ${err instanceof Error ? err.message : String(err)}`);
    });
    this.chains.set(name, next);
    return next;
  }

  /** Stops watching and waits for the pod updates in flight (the lab stops its API servers next). */
  async stop(): Promise<void> {
    for (const prober of this.probers.values()) prober.abort();
    await Promise.all(this.informers.splice(0).map((i) => i.stop()));
    await Promise.all(this.chains.values());
  }
}
