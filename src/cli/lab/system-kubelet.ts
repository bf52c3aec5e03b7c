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
 * - arguments: each new pod's run gets the argv and environment its container declares, with the
 *   flags the lab owns replaced (pod-launch.ts, system-argv.ts); the runs restarted in a pod keep
 *   its argv, as a pod's spec does not change. A template the lab cannot run (a flag pointing
 *   where the lab maps nothing) is the kubelet's CreateContainerConfigError: the new pod waits,
 *   saying why, with no address, and no run starts for it. As a rolling update with the install's
 *   strategy (the default 25 % surge, 25 % unavailable: one new pod, none of the old taken down
 *   before it is available) the old pod's run serves on beside it, `kubectl rollout status` waiting;
 *   with no old run (scaled from 0) nothing serves and the Deployment is unavailable. A fixed (or
 *   undone) template ends it: the run is replaced by the new template's, or, the running pod's
 *   template again, kept.
 */
import type { KubeClient } from '../../kube/client.js';
import { createInformer, type Informer } from '../../kube/informer.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Pod } from '../../kube/types.js';
import { type ContainerRuntime, type PodTemplate, templateHash } from './lab-pods.js';
import { type ProbedContainer, type ReadinessProbe, readinessProbe } from './probes.js';
import type { LabProcess, ProcessEvents, ProcessGroup, Termination } from './processes.js';
import { followReadiness } from './run-readiness.js';
import { type PodRun, type SupervisedPod, SystemPods, type Terminating } from './system-pods.js';

export type { PodRun, SupervisedPod } from './system-pods.js';

interface LabDeployment {
  spec?: { replicas?: number; template?: PodTemplate };
  metadata?: { name?: string };
}

/** The kubelet's default when a pod carries no grace (`terminationGracePeriodSeconds` defaults to 30). */
const DEFAULT_GRACE_SECONDS = 30;

const running = (p: LabProcess['child']) => p.exitCode === null && p.signalCode === null;

function lastTerminated(t: Termination): ContainerRuntime['lastTerminated'] {
  return { exitCode: t.exitCode, signal: t.signal, startedAt: t.startedAt, finishedAt: t.finishedAt };
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class SystemKubelet implements ProcessEvents {
  private procs: ProcessGroup | undefined;
  /** By process name (`east/gateway`). */
  private readonly pods = new Map<string, SystemPods>();
  /** Per process, so an exit, a restart and a scale update its pod in order. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly informers: Informer<LabDeployment | V1Pod>[] = [];
  /** Each process's Deployment's current pod-template-hash. */
  private readonly currentHash = new Map<string, string>();
  /** Uids of the terminating pods being stopped, so each is handled once and its final delete ignored. */
  private readonly stopping = new Set<string>();
  /** Per process, the readiness prober of its current run (aborted by the next one, or stop()). */
  private readonly probers = new Map<string, AbortController>();

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
   * then the kubelet starts its container), not ready. Resolves to the run its container declares,
   * for the ProcessGroup to start; rejects where the lab cannot run it (the install it applied).
   */
  async admit(processName: string, pod: SupervisedPod): Promise<PodRun> {
    const pods = new SystemPods(processName, pod, this.notice);
    this.pods.set(processName, pods);
    const d = await pod.admin.get<LabDeployment>(R.deployments, SYSTEM_NAMESPACE, pod.deployment);
    const run = await pods.newPod(d?.spec?.template);
    if ('problem' in run) throw new Error(`${processName} cannot start: ${run.problem}`);
    return run;
  }

  /**
   * An admitted process's pod, written at once, not ready, as the kubelet reports a container that
   * started; Ready once its run answers its readiness probe, which is followed from then on.
   * Resolves once the pod is Ready (or the run exited first, or did not answer within
   * READY_DEADLINE_MS).
   */
  async register(processName: string): Promise<void> {
    const pods = this.pods.get(processName);
    const p = this.procs?.process(processName);
    if (!pods || !p) return;
    this.enqueue(processName, async () => {
      await pods.write([pods.spec.host], { ready: false, restartCount: p.restarts, startedAt: p.startedAt });
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
      [...this.pods].find(([, p]) => p.spec.cluster === cluster && p.spec.deployment === deployment)?.[0];
    deployments.onEvent((e) => {
      const name = processOf(e.object.metadata?.name);
      if (e.type === 'delete' || !name) return;
      const template = e.object.spec?.template;
      const hash = templateHash(template);
      const before = this.currentHash.get(name);
      this.currentHash.set(name, hash);
      const replicas = e.object.spec?.replicas ?? 1;
      if (before !== undefined && before !== hash && replicas > 0) this.rollout(name, template);
      else this.scale(name, replicas, template);
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

  /** Whether the process has a run (neither stopped nor yet to start). */
  private runs(name: string): boolean {
    return this.procs?.process(name) !== undefined && !this.procs.isPaused(name);
  }

  /**
   * A pod of a process changed: one that turns Terminating is stopped; one removed outright (a
   * forced delete, grace 0) is replaced too, if it was the run's live pod. The blocked pod has no
   * run: deleted, it is made again. The lab's own deletions (an old template's, a scale to zero's)
   * come after the process stopped.
   */
  private podChanged(name: string, removed: boolean, pod: V1Pod): void {
    const pods = this.pods.get(name);
    if (!pods) return;
    const uid = pod.metadata?.uid ?? '';
    const hash = pod.metadata?.labels?.['pod-template-hash'];
    const terminating = !removed && pod.metadata?.deletionTimestamp !== undefined && !this.stopping.has(uid);
    if (hash !== undefined && hash === pods.blocked?.hash) {
      if (terminating) this.stopping.add(uid);
      if (terminating || (removed && !this.stopping.delete(uid)))
        this.remake(name, terminating ? pod : undefined);
      return;
    }
    if (removed) {
      if (this.stopping.delete(uid)) return;
      const live = pods.template !== undefined && hash === templateHash(pods.template);
      if (live && this.runs(name)) this.replace(name, 'its pod was deleted', false);
      return;
    }
    if (!terminating) return;
    this.stopping.add(uid);
    const grace = pod.metadata?.deletionGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
    this.replace(name, 'its pod was deleted', false, { pod, graceMs: grace * 1000 });
  }

  /** The blocked pod deleted: gone (the kubelet's delete, grace 0), and made again (the ReplicaSet's). */
  private remake(name: string, deleted: V1Pod | undefined): void {
    const pods = this.pods.get(name);
    if (!pods) return;
    this.enqueue(name, async () => {
      await pods.finish(deleted && { pod: deleted, graceMs: 0 });
      await pods.rewrite(this.runs(name));
    });
  }

  exited(p: LabProcess, t: Termination, backoffMs: number): void {
    const how = t.signal ? `signal ${t.signal}` : `code ${t.exitCode}`;
    this.notice(`${p.name} exited (${how}); restarting in ${backoffMs / 1000}s; see ${p.logFile}`);
    const pods = this.pods.get(p.name);
    if (!pods) return;
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
      const written = await pods.write([pods.spec.host], runtime);
      await pods.event(
        written,
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
   * argv and environment. A stopped process (scaled to 0) stays stopped when its pod is deleted, but
   * starts with a template change that also asks for replicas. The new pod shows before the fresh
   * run starts, not ready until the run answers (as the ReplicaSet's replacement would), so the
   * Deployment is unavailable meanwhile and `kubectl rollout status` waits for it. A deleted pod is
   * replaced before the old run stops, and is removed (the kubelet's delete, grace 0) once the old
   * run has exited; on a template change the old pod stays until then, to carry the kubelet's
   * Killing event. A deleted pod's replacement is of its own template (the old ReplicaSet's while a
   * rollout is blocked).
   */
  private replace(
    name: string,
    why: string,
    startIfStopped: boolean,
    deleted?: Terminating,
    template?: PodTemplate,
  ): void {
    const procs = this.procs;
    const pods = this.pods.get(name);
    if (!procs || !pods) return;
    this.enqueue(name, async () => {
      const paused = procs.isPaused(name);
      if (paused && !startIfStopped) return pods.finish(deleted);
      const next = template ?? pods.template;
      let run = startIfStopped ? undefined : await this.nextPod(pods, next);
      if (!paused) await this.stopContainer(procs, pods, deleted);
      await pods.finish(deleted);
      run ??= await this.nextPod(pods, next);
      if (run) this.resume(name, run, `${name} replaced: ${why}`);
    });
  }

  /** Starts the stopped process's next run, in its new pod. */
  private resume(name: string, run: PodRun, why: string): void {
    const p = this.procs?.resume(name, run.env, run.args);
    if (!p) return;
    this.onStart(p);
    this.notice(why);
    void this.probeRun(p);
  }

  /**
   * A new pod template (`kubectl rollout restart`, `isthmus upgrade`, `kubectl edit`): the run is
   * replaced by one of the new template, unless the lab cannot start it (the run serves on beside
   * its waiting pod), or it is the running pod's template again (the blocked pod goes, the run stays).
   */
  private rollout(name: string, template: PodTemplate | undefined): void {
    const pods = this.pods.get(name);
    if (!pods || !template) return;
    const problem = pods.problemOf(template);
    if (problem !== undefined) {
      this.enqueue(name, () => pods.block(template, problem, this.runs(name)));
    } else if (this.runs(name) && pods.template && templateHash(template) === templateHash(pods.template)) {
      this.enqueue(name, async () => {
        if (!pods.blocked) return;
        pods.unblock();
        await pods.rewrite(true);
        this.notice(`${name}: deployment/${pods.spec.deployment} is back to its running pod's template`);
      });
    } else this.replace(name, 'its pod template changed', true, undefined, template);
  }

  /**
   * SystemPods.newPod, for a run that starts unless its template cannot (undefined): one whose pod
   * the API refused runs with the args it had, without its pod's environment.
   */
  private async nextPod(pods: SystemPods, template: PodTemplate | undefined): Promise<PodRun | undefined> {
    const run = await pods.newPod(template).catch((err: unknown): PodRun => {
      this.notice(
        `${pods.name}: could not write its new pod, starting it without the pod's environment: ${message(err)}`,
      );
      return { env: {} };
    });
    return 'problem' in run ? undefined : run;
  }

  /**
   * The Deployment's replicas: 0 stops the run and removes its pods (the blocked one too); more
   * starts a run of `template` where none runs, unless the lab cannot start it (its pod shows why,
   * once: the Deployment's status updates come back here).
   */
  private scale(name: string, replicas: number, template: PodTemplate | undefined): void {
    const procs = this.procs;
    const pods = this.pods.get(name);
    if (!procs || !pods) return;
    this.enqueue(name, async () => {
      const paused = procs.isPaused(name);
      if (replicas === 0 && (!paused || pods.blocked)) {
        if (!paused) {
          await this.stopContainer(procs, pods);
          this.notice(`${name} stopped: deployment/${pods.spec.deployment} scaled to 0`);
        }
        pods.unblock();
        await pods.write([], { ready: false, restartCount: 0 });
      } else if (replicas > 0 && paused && !(template && pods.blocked?.hash === templateHash(template))) {
        // The new pod shows first, not ready until the run answers its probe; the run gets its argv.
        const run = await this.nextPod(pods, template);
        if (run)
          this.resume(name, run, `${name} started: deployment/${pods.spec.deployment} scaled to ${replicas}`);
      }
    });
  }

  /**
   * SIGTERM to the process (SIGKILL past the grace: a deleted pod's own, else the lab's default),
   * after the kubelet's Killing event on the pod being stopped.
   */
  private async stopContainer(procs: ProcessGroup, pods: SystemPods, deleted?: Terminating): Promise<void> {
    const stopped = deleted ? [deleted.pod] : await pods.current();
    await pods.event(stopped, 'Normal', 'Killing', (c) => `Stopping container ${c}`);
    await procs.pause(pods.name, deleted?.graceMs);
  }

  /** The readiness probe of the run's container: its pod's template's (else its Deployment's now). */
  private async probeOf(pods: SystemPods): Promise<ReadinessProbe> {
    const { admin, deployment, host } = pods.spec;
    const template =
      pods.template ??
      (await admin.get<LabDeployment>(R.deployments, SYSTEM_NAMESPACE, deployment))?.spec?.template;
    const container: ProbedContainer = template?.spec?.containers?.[0] ?? {};
    return readinessProbe(container, host);
  }

  /** The pod of a run as the kubelet reports it, ready or not. */
  private runtimeOf(p: LabProcess, ready: boolean): ContainerRuntime {
    const runtime: ContainerRuntime = { ready, restartCount: p.restarts, startedAt: p.startedAt };
    if (p.previous) runtime.lastTerminated = lastTerminated(p.previous);
    return runtime;
  }

  /**
   * The kubelet's readiness prober for the run `p` has now (run-readiness.ts): its pod is written
   * Ready or not as the run answers, the first time with the kubelet's Started event, each failure
   * of a run that was ready an Unhealthy event. Ends with the run (an exit, a scale to 0, a
   * replacement: what ended it writes its pod) or stop(). Resolves once the pod is first Ready, or
   * the prober ended before, or READY_DEADLINE_MS passed without.
   */
  private probeRun(p: LabProcess): Promise<void> {
    const pods = this.pods.get(p.name);
    if (!pods) return Promise.resolve();
    this.probers.get(p.name)?.abort();
    const stop = new AbortController();
    this.probers.set(p.name, stop);
    const child = p.child;
    const current = () => !stop.signal.aborted && p.child === child && running(child);
    const { firstReady, ended } = followReadiness({
      signal: stop.signal,
      running: () => p.child === child && running(child),
      probe: () => this.probeOf(pods),
      unhealthy: async (failure) =>
        pods.event(await pods.current(), 'Warning', 'Unhealthy', () => `Readiness probe failed: ${failure}`),
      turned: async (ready, first, failure) => {
        if (!first) this.notice(ready ? `${p.name} is ready again` : `${p.name} is not ready: ${failure}`);
        await this.enqueue(p.name, async () => {
          // A run that ended meanwhile has its pod written by what ended it.
          if (!current()) return;
          const written = await pods.write([pods.spec.host], this.runtimeOf(p, ready));
          if (!first) return;
          await pods.event(written, 'Normal', 'Started', (c) => `Started container ${c}`);
          if (p.restarts > 0) this.notice(`${p.name} is ready again (restart ${p.restarts})`);
        });
      },
    });
    ended.catch((err: unknown) => {
      if (!stop.signal.aborted) this.notice(`${p.name}: readiness probe stopped: ${message(err)}`);
    });
    return firstReady;
  }

  /** Runs `task` after the process's earlier ones; resolves once it has run (an error is noticed). */
  private enqueue(name: string, task: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(name) ?? Promise.resolve()).then(task).catch((err: unknown) => {
      this.notice(`${name}: could not update its pod: ${message(err)}`);
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
