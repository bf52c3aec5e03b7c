/**
 * A container's environment as the kubelet builds it before it starts the container: `env` in
 * order, literal values with `$(VAR)` expanded from the entries before them, `fieldRef` from the
 * pod (downward-env.ts). What the lab cannot give (a Secret's or ConfigMap's key, a resource
 * field, `envFrom`) is a problem naming the entry: the kubelet refuses a container it cannot give
 * its environment (CreateContainerConfigError), and the lab does not start one without it.
 */
import type { V1Pod } from '../../kube/types.js';
import { fieldRefValue } from './downward-env.js';
import type { Mapped } from './system-argv.js';

/**
 * The kubelet's `$(VAR)` expansion (k8s.io/kubernetes third_party/forked/golang/expansion):
 * `$(NAME)` is NAME's value where `vars` has one and stays as written where not, `$$` is `$`.
 */
export function expandVars(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([^)]*)\)/g, (match, name: string | undefined) =>
    name === undefined ? '$' : (vars[name] ?? match),
  );
}

export function containerEnv(pod: V1Pod): Mapped<Record<string, string>> {
  const container = pod.spec?.containers?.[0];
  if (container?.envFrom?.length)
    return { problem: 'envFrom: the lab gives only env entries with a value or a fieldRef' };
  const env: Record<string, string> = {};
  for (const e of container?.env ?? []) {
    const from = e.valueFrom;
    if (from === undefined) {
      env[e.name] = expandVars(e.value ?? '', env);
      continue;
    }
    if (from.fieldRef === undefined) {
      const source = Object.keys(from).join(', ');
      return { problem: `env ${e.name}: the lab gives only literal values and fieldRef, not ${source}` };
    }
    // A field the pod has no value for is left out: the lab starts the process without it.
    const value = fieldRefValue(pod, from.fieldRef.fieldPath);
    if (value !== undefined) env[e.name] = value;
  }
  return { value: env };
}
