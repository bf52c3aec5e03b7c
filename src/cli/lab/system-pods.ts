/**
 * The pods of one isthmus-system process, as the ReplicaSet controller and the kubelet keep them
 * (system-kubelet.ts runs the process): the run's pod, of the template it was made from, and, while
 * the Deployment's template is one the lab cannot start, that template's pod beside it, waiting in
 * CreateContainerConfigError (a rolling update's new ReplicaSet whose pod cannot start). Each new
 * pod's run is what its container declares (pod-launch.ts); the kubelet's events are recorded on
 * the pods.
 */
import type { KubeClient } from '../../kube/client.js';
import { EventRecorder, type EventType } from '../../kube/events.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Pod } from '../../kube/types.js';
import { downwardEnv } from './downward-env.js';
import {
  type ContainerRuntime,
  type LabNode,
  type PodTemplate,
  syncDeploymentPods,
  templateHash,
} from './lab-pods.js';
import { podLaunch } from './pod-launch.js';
import type { LabPart } from './system-argv.js';

export interface SupervisedPod {
  admin: KubeClient;
  cluster: string;
  deployment: string;
  /** The process's address: its pod IP, which its Deployment's readiness probe is run against. */
  host: string;
  node: LabNode;
  /**
   * What the lab has for the process: each run gets the argv its pod's container declares (with
   * the lab's flags). Absent: the args it was started with (a test's stand-in).
   */
  lab?: LabPart;
}

/** A new pod's run: its args (absent: the process keeps its own) and environment. */
export interface PodRun {
  args?: string[];
  env: Record<string, string>;
}

/** A pod the user deleted, Terminating until its run has stopped. */
export interface Terminating {
  pod: V1Pod;
  graceMs: number;
}

/** One EventRecorder per API server, as the kubelet has one per node. */
const recorders = new WeakMap<KubeClient, EventRecorder>();

export class SystemPods {
  /** The template of the run's pod (or of its last one, while stopped). */
  template: PodTemplate | undefined;
  /** The Deployment's template the lab cannot start, and why. */
  blocked: { hash: string; problem: string } | undefined;
  /** The run's pod as last written: written again as it is when only the pods beside it change. */
  private runtime: ContainerRuntime = { ready: false, restartCount: 0 };
  /** Every name the process's pods had: a new pod takes none of them (planPodNames). */
  private readonly retired = new Set<string>();

  constructor(
    readonly name: string,
    readonly spec: SupervisedPod,
    private readonly notice: (line: string) => void,
  ) {}

  /** The pods: the run's at `ips` (none: stopped) with `runtime`, and the blocked one beside it. */
  async write(ips: string[], runtime: ContainerRuntime): Promise<V1Pod[]> {
    const { admin, deployment, node } = this.spec;
    const written = await syncDeploymentPods(admin, SYSTEM_NAMESPACE, deployment, ips, node, {
      runtime,
      retired: this.retired,
      ...(this.template ? { template: this.template } : {}),
      ...(this.blocked ? { blocked: this.blocked.problem } : {}),
    });
    if (ips.length > 0) this.runtime = runtime;
    for (const p of written) this.retired.add(p.metadata?.name ?? '');
    return written;
  }

  /** The pods written again as they are: the run's (if it runs) and the blocked one. */
  rewrite(running: boolean): Promise<V1Pod[]> {
    return this.write(running ? [this.spec.host] : [], this.runtime);
  }

  /** Why the lab cannot start a pod of `template` (system-argv.ts), or undefined. */
  problemOf(template: PodTemplate): string | undefined {
    const { lab, deployment, node, host } = this.spec;
    if (!lab) return undefined;
    const prospect: V1Pod = {
      metadata: { ...template.metadata, name: deployment, namespace: SYSTEM_NAMESPACE },
      spec: { ...template.spec!, nodeName: node.name },
      status: { podIP: host, hostIP: node.ip },
    };
    const launch = podLaunch(prospect, lab);
    return 'problem' in launch ? launch.problem : undefined;
  }

  /**
   * The Deployment's template cannot start: its pod waits beside the run's, which serves on (the
   * kubelet's Failed event on it, the lab's notice), once per template and problem.
   */
  async block(template: PodTemplate, problem: string, running: boolean): Promise<void> {
    const hash = templateHash(template);
    if (this.blocked?.hash === hash && this.blocked.problem === problem) return;
    this.blocked = { hash, problem };
    this.notice(
      `${this.name}: deployment/${this.spec.deployment}'s new pod cannot start (CreateContainerConfigError): ${problem}; ${running ? 'its old pod serves on' : 'nothing runs'}`,
    );
    const waiting = (await this.rewrite(running)).filter(
      (p) => p.metadata?.labels?.['pod-template-hash'] === hash,
    );
    await this.event(waiting, 'Warning', 'Failed', () => `Error: ${problem}`);
  }

  /** The blocked template is gone (fixed, undone, scaled to 0): its pod goes with the next write. */
  unblock(): void {
    this.blocked = undefined;
  }

  /**
   * The pod of the process's next run, of `template`, written not ready (a fresh run), and the run
   * its container declares; or the problem, which a pod of the template shows where the lab cannot
   * start it (the process is not running: its pod is the blocked one alone).
   */
  async newPod(template: PodTemplate | undefined): Promise<PodRun | { problem: string }> {
    const problem = template && this.problemOf(template);
    if (template && problem) {
      await this.block(template, problem, false);
      return { problem };
    }
    this.unblock();
    if (template) this.template = template;
    const { host, lab } = this.spec;
    const own = (await this.write([host], { ready: false, restartCount: 0 })).find(
      (p) => p.status?.podIP === host,
    );
    if (!own) return { env: {} };
    if (!lab) return { env: downwardEnv(own) };
    const launch = podLaunch(own, lab);
    // Only what the pod itself adds (its name in a $(POD_NAME)) can fail here.
    if ('problem' in launch && template) await this.block(template, launch.problem, false);
    return launch;
  }

  /** The kubelet's last word on a terminating pod whose run has stopped: delete it, grace 0. */
  async finish(deleted: Terminating | undefined): Promise<void> {
    const podName = deleted?.pod.metadata?.name;
    if (podName) await this.spec.admin.delete(R.pods, SYSTEM_NAMESPACE, podName, { gracePeriodSeconds: 0 });
  }

  /** The pods as they are now (to hang an event on before they change). */
  async current(): Promise<V1Pod[]> {
    const { items } = await this.spec.admin.list<V1Pod>(R.pods, {
      namespace: SYSTEM_NAMESPACE,
      labelSelector: `app.kubernetes.io/name=${this.spec.deployment}`,
    });
    return items;
  }

  /** An event on `pods`, worded as the kubelet words it (`kubectl describe pod` shows them). */
  async event(
    pods: V1Pod[],
    type: EventType,
    reason: string,
    message: (container: string, pod: string) => string,
  ): Promise<void> {
    const { admin, node } = this.spec;
    let recorder = recorders.get(admin);
    if (!recorder) {
      recorder = new EventRecorder(admin, { component: 'kubelet', host: node.name });
      recorders.set(admin, recorder);
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
}
