/**
 * Why a pod of an Isthmus Deployment is not ready, in one line naming the fix, as `linkerd check`
 * points at the failing control-plane pod. Pure: it reads the scheduler's `PodScheduled`
 * condition, the kubelet's `containerStatuses`, and for a running gateway or controller the
 * reasons its admin `/ready` gives. The fixes are the `isthmus install` flags that place, pull and
 * size the pods (README "Scheduling and resources"), since those are how a fresh install fails.
 */
import { describeError } from '../../errors.js';
import { KubeApiError } from '../../kube/errors.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import type { V1Pod } from '../../kube/types.js';
import type { Fetched, PodFacts, PodsFetched } from './types.js';

/** Pods named per Deployment before "and N more": the first few say what the others do. */
const MAX_PODS = 3;

type ContainerStatus = NonNullable<NonNullable<V1Pod['status']>['containerStatuses']>[number];

/** The kubelet's waiting reasons for an image it cannot pull (pkg/kubelet/images/types.go). */
const IMAGE_PULL_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
]);
/** The kubelet's waiting reasons whose message names what is missing: a Secret, a ConfigMap, a key. */
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError']);

const KUBECTL = `kubectl -n ${SYSTEM_NAMESPACE}`;

/** gateway, controller or identity: the `app.kubernetes.io/name` install gives its pods, less `isthmus-`. */
function componentOf(pod: V1Pod): string {
  return (pod.metadata?.labels?.['app.kubernetes.io/name'] ?? '').replace(/^isthmus-/, '');
}

/** Only these serve `/ready` on the admin port; identity's readiness is a gRPC health check. */
function hasAdminPort(pod: V1Pod): boolean {
  return ['gateway', 'controller'].includes(componentOf(pod));
}

/** Ready, leaving, or done: nothing to explain (the ReplicaSet replaces the last two). */
function nothingToSay(pod: V1Pod): boolean {
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  const phase = pod.status?.phase;
  return ready === true || !!pod.metadata?.deletionTimestamp || phase === 'Succeeded' || phase === 'Failed';
}

/** The fixes a scheduler message points at: its "didn't match", "taint" and "Insufficient" parts. */
function schedulingFix(component: string, message: string): string {
  const gateway = component === 'gateway';
  const fixes = [
    /node affinity|node selector/.test(message) &&
      `check \`--node-selector\`${gateway ? '/`--gateway-node-selector`' : ''} against the nodes' labels`,
    /taint/.test(message) &&
      `\`--toleration\`${gateway ? '/`--gateway-toleration`' : ''} must tolerate the nodes' taints`,
    /Insufficient (cpu|memory)/.test(message) &&
      `lower the requests of \`--${component}-resources\` (or add nodes)`,
  ].filter((f): f is string => typeof f === 'string');
  return fixes.length > 0
    ? fixes.join(', or ')
    : `check \`--node-selector\`, \`--toleration\` and \`--${component}-resources\``;
}

function schedulingProblem(pod: V1Pod): string | undefined {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status !== 'False') return undefined;
  // The preemption summary kube-scheduler appends says nothing about the fix.
  const message = (scheduled.message ?? '').split(' preemption: ')[0]!.replace(/\.$/, '');
  if (scheduled.reason !== 'Unschedulable') return `not scheduled (${scheduled.reason}): ${message}`;
  return `not schedulable: ${message}; ${schedulingFix(componentOf(pod), message)}`;
}

const restarts = (n: number) => `${n} restart${n === 1 ? '' : 's'}`;

/** With `--external-issuer` no issuer Secret is rendered: cert-manager writes it, or nothing does. */
function issuerHint(component: string): string {
  return component === 'identity' ? ' (the Secret isthmus-issuer with `--external-issuer`)' : '';
}

function containerProblem(pod: V1Pod, c: ContainerStatus): string | undefined {
  const name = pod.metadata?.name ?? '';
  const component = componentOf(pod);
  const waiting = c.state?.waiting;
  const said = `${waiting?.reason}${waiting?.message ? `: ${waiting.message}` : ''}`;
  if (waiting?.reason && IMAGE_PULL_REASONS.has(waiting.reason))
    return `${said}; check \`--image\` and \`--image-pull-secret\` (the Secret must exist in ${SYSTEM_NAMESPACE})`;
  if (waiting?.reason && CONFIG_REASONS.has(waiting.reason))
    return waiting.message?.includes('"isthmus-issuer"')
      ? `${said}; with \`--external-issuer\`, cert-manager's Certificate writes it: see \`${KUBECTL} describe certificate\``
      : said;
  // The kubelet says no more while it pulls or waits for volumes: the pod's events do.
  if (waiting?.reason === 'ContainerCreating')
    return `containers not created yet (ContainerCreating): the image is still pulling, or a volume is missing${issuerHint(component)}; see \`${KUBECTL} describe pod/${name}\``;
  if (c.state?.running) return undefined;
  const exit = c.state?.terminated ?? c.lastState?.terminated;
  if (exit?.reason === 'OOMKilled')
    return `OOMKilled (exit code ${exit.exitCode}), ${restarts(c.restartCount)}; raise \`--${component}-resources limits.memory=…\``;
  if (exit && (waiting?.reason === 'CrashLoopBackOff' || exit.exitCode !== 0))
    return `${waiting?.reason ?? 'terminated'}: exited with code ${exit.exitCode}${exit.reason ? ` (${exit.reason})` : ''}, ${restarts(c.restartCount)}; see \`${KUBECTL} logs ${name} --previous\``;
  return waiting?.reason && waiting.reason !== 'PodInitializing' ? said : undefined;
}

/** What the status alone says is wrong: not scheduled, or a container that cannot start or keeps dying. */
function statusProblem(pod: V1Pod): string | undefined {
  const containers = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return (
    schedulingProblem(pod) ?? containers.map((c) => containerProblem(pod, c)).find((p) => p !== undefined)
  );
}

/** Running, every container up, yet unready: only the process knows why. */
function runningUnready(pod: V1Pod): boolean {
  return !nothingToSay(pod) && pod.status?.phase === 'Running' && statusProblem(pod) === undefined;
}

/** Whether the gatherer should read this pod's `/ready` through the pod proxy. */
export function needsReadiness(pod: V1Pod): boolean {
  return hasAdminPort(pod) && runningUnready(pod);
}

function unreadyProblem(pod: V1Pod, readiness: Fetched<string[]> | undefined): string {
  if (!hasAdminPort(pod))
    return `running, not ready (its gRPC health check fails); see \`${KUBECTL} logs ${pod.metadata?.name}\``;
  if (!readiness) return 'running, not ready';
  if (!readiness.ok) return `running, not ready; its /ready could not be read: ${readiness.error}`;
  if (readiness.value.length === 0) return 'running, not ready yet (its /ready now answers ready)';
  return `running, not ready: ${readiness.value.join(', ')}`;
}

/** One line on why the pod is not ready, or null when there is nothing to say. */
export function diagnosePod({ pod, readiness }: PodFacts): string | null {
  if (nothingToSay(pod)) return null;
  const scheduled = pod.status?.conditions?.some((c) => c.type === 'PodScheduled');
  const problem =
    statusProblem(pod) ??
    (pod.status?.phase === 'Running'
      ? unreadyProblem(pod, readiness)
      : scheduled
        ? 'scheduled, not started yet'
        : 'not scheduled yet');
  return `pod ${pod.metadata?.name}: ${problem}`;
}

/** The reasons in a `/ready` body: the gateway's "not ready: a; b", the controller's one reason. */
export function readyReasons(body: string): string[] {
  const text = body.trim();
  if (text === '' || text === 'ready') return [];
  return text
    .replace(/^not ready: /, '')
    .split('; ')
    .filter((r) => r !== '');
}

/**
 * A failed `/ready` read through the pod proxy. The pod's own 503 comes through as a plain-text
 * body (the API server's own 503s carry a Status with a reason): it holds the reasons.
 */
export function readinessFromError(err: unknown): Fetched<string[]> {
  if (err instanceof KubeApiError && err.status === 503 && err.body !== undefined)
    return { ok: true, value: readyReasons(err.body) };
  // "GET /api/v1/…/proxy/ready: " adds nothing the line does not already say.
  return { ok: false, error: describeError(err).replace(/^[A-Z]+ \/\S*: /, '') };
}

/** The lines for one Deployment's pods: the first few unready ones, then how many more. */
export function podLines(pods: PodsFetched): string[] {
  if (!pods.ok)
    return [
      pods.forbidden
        ? `pod details need \`list pods\` in ${SYSTEM_NAMESPACE}`
        : `cannot read its pods: ${pods.error}`,
    ];
  if (pods.value.length === 0)
    return [
      `no pod exists: the ReplicaSet may be refused them (e.g. an unknown \`--priority-class-name\`); see \`${KUBECTL} get events\``,
    ];
  const lines = [...pods.value]
    .sort((a, b) => (a.pod.metadata?.name ?? '').localeCompare(b.pod.metadata?.name ?? ''))
    .map(diagnosePod)
    .filter((l): l is string => l !== null);
  const more = lines.length - MAX_PODS;
  return more > 0 ? [...lines.slice(0, MAX_PODS), `and ${more} more pods not ready`] : lines;
}
