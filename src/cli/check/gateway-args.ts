/**
 * What the gateway Deployment says the gateway admits (`--allow-cluster`) and which cluster it is
 * (`--cluster`), read as the gateway reads them: its own argv parser (src/gateway/config.ts
 * gatewayFlagsFromArgv, so `--allow-cluster x`, `--allow-cluster=x` and repeats alike) over the
 * container's command and args, `$(VAR)` expanded as the kubelet does, and, where a flag is absent,
 * the variable the gateway falls back to (GATEWAY_ENV) from the container's env. A variable set from
 * a Secret, a ConfigMap or the pod (valueFrom, envFrom) is not read here: where it matters, it is named.
 */

import type { V1Container, V1EnvVar } from '@kubernetes/client-node';
import { GATEWAY_ENV, gatewayFlagsFromArgv, splitList } from '../../gateway/config.js';
import type { KubeClient } from '../../kube/client.js';
import { GATEWAY_SERVICE_NAME, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Deployment } from '../../kube/types.js';
import { expandVars } from '../lab/container-env.js';

export interface GatewayAdmission {
  /** Its --allow-cluster list; ISTHMUS_ALLOW_CLUSTERS's where no such flag is given. */
  allowCluster: string[];
  /** Its --cluster (else ISTHMUS_CLUSTER_NAME); undefined when neither can be read. */
  cluster?: string;
  /** ISTHMUS_ALLOW_CLUSTERS, with no flag to override it, comes from where check cannot read: e.g. "set from Secret peers, key allow". */
  unreadList?: string;
  /** ISTHMUS_ALLOW_CLUSTERS as set, when --allow-cluster is given too: the gateway does not read it. */
  overriddenList?: string;
}

/** A variable of the container: its value, or where it comes from when that cannot be read here. */
type Variable = { value: string } | { from: string } | undefined;

/**
 * The container's variables as the kubelet sets them (env entries in order, over envFrom): those
 * with a literal value, and a lookup that also says where the others come from.
 */
function variables(c: V1Container): {
  literal: Record<string, string>;
  variable: (name: string) => Variable;
} {
  const literal: Record<string, string> = {};
  const unread = new Map<string, string>();
  for (const e of c.env ?? []) {
    if (e.valueFrom === undefined) {
      literal[e.name] = expandVars(e.value ?? '', literal);
      unread.delete(e.name);
    } else {
      unread.set(e.name, `set from ${sourceOf(e)}`);
      delete literal[e.name];
    }
  }
  const envFrom = (c.envFrom ?? []).map((s) =>
    s.secretRef ? `Secret ${s.secretRef.name}` : `ConfigMap ${s.configMapRef?.name ?? ''}`,
  );
  const variable = (name: string): Variable => {
    if (Object.hasOwn(literal, name)) return { value: literal[name] ?? '' };
    const from = unread.get(name);
    if (from) return { from };
    return envFrom.length > 0 ? { from: `possibly set by envFrom ${envFrom.join(', ')}` } : undefined;
  };
  return { literal, variable };
}

function sourceOf(e: V1EnvVar): string {
  const from = e.valueFrom ?? {};
  if (from.secretKeyRef) return `Secret ${from.secretKeyRef.name}, key ${from.secretKeyRef.key}`;
  if (from.configMapKeyRef) return `ConfigMap ${from.configMapKeyRef.name}, key ${from.configMapKeyRef.key}`;
  if (from.fieldRef) return `the pod's ${from.fieldRef.fieldPath}`;
  return Object.keys(from).join(', ');
}

/**
 * The gateway container's admission settings; throws the gateway's USAGE error for arguments it
 * would refuse. The container is the one the install names `gateway`, else the first.
 */
export function gatewayAdmission(deployment: V1Deployment): GatewayAdmission {
  const containers = deployment.spec?.template?.spec?.containers ?? [];
  const c = containers.find((x) => x.name === 'gateway') ?? containers[0];
  if (!c) return { allowCluster: [] };
  const { literal, variable } = variables(c);
  // The kubelet expands `$(VAR)` from the container's env; what is not read here stays as written.
  const argv = [...(c.command ?? []), ...(c.args ?? [])].map((a) => expandVars(a, literal));
  // The entrypoint and the `gateway` verb come before the first flag.
  const first = argv.findIndex((a) => a.startsWith('-'));
  const flags = gatewayFlagsFromArgv(first < 0 ? [] : argv.slice(first));
  const list = variable(GATEWAY_ENV.allowCluster);
  const cluster = flags.cluster ?? literal[GATEWAY_ENV.cluster];
  return {
    // The gateway takes the variable only when no flag is given (gatewayOptionsFromFlags).
    allowCluster: splitList(flags.allowCluster ?? (list && 'value' in list ? list.value : undefined)),
    ...(cluster ? { cluster } : {}),
    ...(flags.allowCluster === undefined && list && 'from' in list ? { unreadList: list.from } : {}),
    ...(flags.allowCluster !== undefined && list && 'value' in list && list.value.trim() !== ''
      ? { overriddenList: list.value }
      : {}),
  };
}

/** This cluster's gateway Deployment's admission settings; undefined without one. */
export async function readGatewayAdmission(client: KubeClient): Promise<GatewayAdmission | undefined> {
  const d = await client.get<V1Deployment>(R.deployments, SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME);
  return d ? gatewayAdmission(d) : undefined;
}
