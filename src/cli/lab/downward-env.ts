/**
 * The environment a pod's container declares from the downward API (`env[].valueFrom.fieldRef`),
 * resolved against the pod as the kubelet resolves it before it starts the container: the lab
 * gives its processes what their Deployment declares (the controller's `POD_NAME`, its Lease
 * holder prefix), so the lab follows what `isthmus install` renders.
 */
import type { V1Pod } from '../../kube/types.js';

/** The fieldPaths the kubelet accepts for env (k8s.io/kubernetes pkg/apis/core/validation). */
const FIELDS: Record<string, (pod: V1Pod) => string | undefined> = {
  'metadata.name': (p) => p.metadata?.name,
  'metadata.namespace': (p) => p.metadata?.namespace,
  'metadata.uid': (p) => p.metadata?.uid,
  'spec.nodeName': (p) => p.spec?.nodeName,
  'spec.serviceAccountName': (p) => p.spec?.serviceAccountName,
  'status.hostIP': (p) => p.status?.hostIP,
  'status.hostIPs': (p) => p.status?.hostIPs?.map((i) => i.ip).join(','),
  'status.podIP': (p) => p.status?.podIP,
  'status.podIPs': (p) => p.status?.podIPs?.map((i) => i.ip).join(','),
};

/** `metadata.labels['key']` and `metadata.annotations['key']`: one label or annotation. */
const KEYED = /^metadata\.(labels|annotations)\['([^']+)'\]$/;

/** A fieldRef's value in `pod`; undefined for a field the kubelet does not give or the pod lacks. */
export function fieldRefValue(pod: V1Pod, fieldPath: string): string | undefined {
  const keyed = KEYED.exec(fieldPath);
  if (keyed) return pod.metadata?.[keyed[1] as 'labels' | 'annotations']?.[keyed[2]!];
  return FIELDS[fieldPath]?.(pod);
}

/**
 * The fieldRef entries of the pod's (first, the lab's only) container, by name. An entry the pod
 * has no value for is left out: the kubelet would refuse to start the container, the lab starts
 * it without, as a process run by hand is.
 */
export function downwardEnv(pod: V1Pod): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of pod.spec?.containers?.[0]?.env ?? []) {
    const fieldPath = e.valueFrom?.fieldRef?.fieldPath;
    const value = fieldPath === undefined ? undefined : fieldRefValue(pod, fieldPath);
    if (value !== undefined) env[e.name] = value;
  }
  return env;
}
