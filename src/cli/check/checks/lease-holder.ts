/**
 * Does the mirror Lease's holder still run? A leader killed outright (`kill -KILL`, a node lost)
 * never releases the Lease, and when its pod is replaced the new pod is another candidate: it waits
 * for the Lease to run out (~15 s with no leader) though the Lease looks freshly renewed. The holder
 * is `<POD_NAME>_<run>` (src/mirror/leadership.ts), so its pod can be looked up among the
 * controller's. A run restarted in the same pod takes its earlier run's Lease at once
 * (`ownPodPrefix`, src/kube/leader-election.ts): a pod that still runs says nothing against it.
 */
import type { V1Pod } from '../../../kube/types.js';

/**
 * Pods of a Deployment are named `<deployment>-<pod-template-hash>-<suffix>`. A holder whose pod
 * part is not (a controller run outside Kubernetes, such as the local lab's, named after its host)
 * has no pod to look for.
 */
const CONTROLLER_POD_PREFIX = 'isthmus-controller-';

/** The holder's pod, when it names one, and what became of it; undefined while it runs (or names none). */
export function holderPodState(
  holder: string | undefined,
  controllerPods: readonly V1Pod[],
): { pod: string; state: string } | undefined {
  const cut = holder?.lastIndexOf('_') ?? -1;
  if (!holder || cut < 0) return undefined;
  const name = holder.slice(0, cut);
  if (!name.startsWith(CONTROLLER_POD_PREFIX)) return undefined;
  const pod = controllerPods.find((p) => p.metadata?.name === name);
  if (!pod) return { pod: name, state: 'is gone' };
  if (pod.metadata?.deletionTimestamp) return { pod: name, state: 'is terminating' };
  // Running through container restarts (restartPolicy Always): then the new run takes over at once.
  const phase = pod.status?.phase;
  return phase === 'Running'
    ? undefined
    : { pod: name, state: `is not running (phase ${phase ?? 'unknown'})` };
}
