/**
 * Where Isthmus pods run and what they pull their image with: node selectors and tolerations for
 * every pod (`--node-selector`, `--toleration`) and the gateway's on top (`--gateway-node-selector`,
 * `--gateway-toleration`: gateways on dedicated edge nodes), a priority class and image pull
 * secrets. The settings Linkerd's charts take as nodeSelector, tolerations, priorityClassName and
 * imagePullSecrets. Pure, and checked with the API server's own rules.
 */
import { isDNS1123Subdomain, isQualifiedName, isValidLabelValue } from '../../kube/validation/strings.js';
import type { Component } from './resources.js';

const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

export interface Toleration {
  key: string;
  operator: 'Equal' | 'Exists';
  value?: string;
  /** Absent: every effect. */
  effect?: (typeof EFFECTS)[number];
}

export interface PodScheduling {
  /** Every pod's, besides kubernetes.io/os=linux. */
  nodeSelector: Readonly<Record<string, string>>;
  tolerations: readonly Toleration[];
  /** The gateway's, over the ones above. */
  gatewayNodeSelector: Readonly<Record<string, string>>;
  gatewayTolerations: readonly Toleration[];
  priorityClassName?: string;
  imagePullSecrets: readonly string[];
}

export const DEFAULT_SCHEDULING: PodScheduling = {
  nodeSelector: {},
  tolerations: [],
  gatewayNodeSelector: {},
  gatewayTolerations: [],
  imagePullSecrets: [],
};

export interface SchedulingFlags {
  /** `KEY=VALUE`, repeated; so is each list below. */
  nodeSelector?: string[];
  gatewayNodeSelector?: string[];
  /** `KEY[=VALUE]:EFFECT`, as `kubectl taint` writes a taint. */
  toleration?: string[];
  gatewayToleration?: string[];
  priorityClassName?: string;
  imagePullSecret?: string[];
}

/** The image is Linux-only: on a cluster with Windows nodes it would never start there. */
const OS_LABEL = 'kubernetes.io/os';

/** `KEY=VALUE` → [key, value]; undefined without `=`. */
function splitKeyValue(item: string): [string, string] | undefined {
  const eq = item.indexOf('=');
  return eq < 0 ? undefined : [item.slice(0, eq), item.slice(eq + 1)];
}

/** What is wrong with one node selector, or null. */
function selectorProblem(kv: [string, string] | undefined): string | null {
  if (!kv) return 'expected KEY=VALUE';
  const [key, value] = kv;
  if (key === OS_LABEL && value !== 'linux')
    return `the image runs on Linux nodes only (${OS_LABEL}=linux is always set)`;
  return [...isQualifiedName(key), ...isValidLabelValue(value)].join('; ') || null;
}

function nodeSelectorFrom(flag: string, items: string[] = [], problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const kv = splitKeyValue(item);
    const problem = selectorProblem(kv);
    if (problem) problems.push(`${flag} ${JSON.stringify(item)}: ${problem}`);
    else if (kv) out[kv[0]] = kv[1];
  }
  return out;
}

/**
 * kubectl taint's `KEY[=VALUE]:EFFECT` as the toleration of that taint: with a value Equal, without
 * Exists. An empty effect tolerates every effect. An empty key, which Kubernetes reads as every
 * taint, is refused: pods would then tolerate node.kubernetes.io/unreachable:NoExecute too and never
 * leave a dead node.
 */
function parseToleration(item: string): Toleration | string {
  const colon = item.lastIndexOf(':');
  if (colon < 0)
    return 'expected KEY[=VALUE]:EFFECT, as kubectl taint takes (an empty EFFECT tolerates every effect)';
  const effect = item.slice(colon + 1);
  const kv = splitKeyValue(item.slice(0, colon));
  const key = kv ? kv[0] : item.slice(0, colon);
  if (key === '')
    return "a key is required: an empty key would tolerate every taint, a dead node's NoExecute one too";
  if (effect !== '' && !(EFFECTS as readonly string[]).includes(effect))
    return 'the effect must be NoSchedule, PreferNoSchedule or NoExecute, or empty for all effects';
  const errors = [...isQualifiedName(key), ...(kv ? isValidLabelValue(kv[1]) : [])];
  if (errors.length > 0) return errors.join('; ');
  return {
    key,
    ...(kv ? { operator: 'Equal', value: kv[1] } : { operator: 'Exists' }),
    ...(effect ? { effect: effect as Toleration['effect'] } : {}),
  };
}

function tolerationsFrom(flag: string, items: string[] = [], problems: string[]): Toleration[] {
  return items.flatMap((item) => {
    const t = parseToleration(item);
    if (typeof t !== 'string') return [t];
    problems.push(`${flag} ${JSON.stringify(item)}: ${t}`);
    return [];
  });
}

/** One DNS-1123 subdomain flag value's problem, in the words of install's other checks. */
function nameProblem(flag: string, name: string, what: string): string[] {
  const errors = isDNS1123Subdomain(name);
  return errors.length > 0 ? [`${flag} ${JSON.stringify(name)} is not ${what}: ${errors[0]}`] : [];
}

/** Flags → scheduling; each problem is pushed with the flag's name and value. */
export function schedulingFromFlags(flags: SchedulingFlags, problems: string[]): PodScheduling {
  const { priorityClassName } = flags;
  const imagePullSecrets = [...new Set(flags.imagePullSecret ?? [])];
  if (priorityClassName !== undefined)
    problems.push(...nameProblem('--priority-class-name', priorityClassName, 'a DNS-1123 subdomain'));
  for (const name of imagePullSecrets)
    problems.push(...nameProblem('--image-pull-secret', name, 'a Secret name (a DNS-1123 subdomain)'));
  return {
    nodeSelector: nodeSelectorFrom('--node-selector', flags.nodeSelector, problems),
    tolerations: tolerationsFrom('--toleration', flags.toleration, problems),
    gatewayNodeSelector: nodeSelectorFrom('--gateway-node-selector', flags.gatewayNodeSelector, problems),
    gatewayTolerations: tolerationsFrom('--gateway-toleration', flags.gatewayToleration, problems),
    ...(priorityClassName !== undefined ? { priorityClassName } : {}),
    imagePullSecrets,
  };
}

/**
 * The pod spec fields of one component's pods; only nodeSelector when nothing was asked.
 * imagePullSecrets go on the pod, not on the ServiceAccounts: the ServiceAccount admission plugin
 * copies an account's secrets into a pod only when it is created, so a changed list would reach
 * no running pod, while a changed pod template rolls the Deployment; and `kubectl apply` of an
 * account would overwrite secrets its owners added to it by hand.
 */
export function podSchedulingFields(s: PodScheduling, component: Component): Record<string, unknown> {
  const gateway = component === 'gateway';
  const tolerations = gateway ? [...s.tolerations, ...s.gatewayTolerations] : s.tolerations;
  return {
    nodeSelector: {
      [OS_LABEL]: 'linux',
      ...s.nodeSelector,
      ...(gateway ? s.gatewayNodeSelector : {}),
    },
    ...(tolerations.length > 0 ? { tolerations: tolerations.map((t) => ({ ...t })) } : {}),
    ...(s.priorityClassName ? { priorityClassName: s.priorityClassName } : {}),
    ...(s.imagePullSecrets.length > 0
      ? { imagePullSecrets: s.imagePullSecrets.map((name) => ({ name })) }
      : {}),
  };
}
