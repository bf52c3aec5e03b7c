/**
 * The argv of a lab process, from its pod's container: what the Deployment declares, with the flags
 * the lab owns replaced by the lab's values. A pod's flags name in-cluster things the lab has
 * elsewhere: its own address (each process has a loopback address of its own, not every interface
 * of a pod), its API server (a kubeconfig, not the pod's service account), files in its volumes
 * (the lab keeps the certificates and the token under `--dir`) and the Services of its cluster (no
 * cluster DNS). Every other flag reaches the process as written, so what `isthmus upgrade` or
 * `kubectl edit/set/patch` change is what the process runs with.
 *
 * Flags are read as the CLI's parser (commander) reads them, from the commands' own option
 * definitions: `--flag=value` and `--flag value` for an option with a value, `--flag` alone for a
 * switch, and nothing after `--`. An argument that is no option of the command is passed on as
 * written: the process refuses it as it would in a cluster (a crash loop).
 */
import { join, posix } from 'node:path';
import { Command, type Option } from 'commander';
import { flagName, GATEWAY_ENV, type GatewayFlags } from '../../gateway/config.js';
import { CRL_BUNDLE_FILE } from '../../identity/files.js';
import {
  CRL_CONFIGMAP,
  GATEWAY_SERVICE_NAME,
  IDENTITY_SERVICE_NAME,
  IDENTITY_TOKEN_AUDIENCE,
  ISSUER_SECRET,
  PORTS,
  SYSTEM_NAMESPACE,
  TRUST_ANCHOR_CONFIGMAP,
} from '../../kube/keys.js';
import type { V1Pod } from '../../kube/types.js';
import { registerController } from '../commands/controller.js';
import { registerGateway } from '../commands/gateway.js';
import { registerIdentity } from '../commands/identity.js';
import type { LabCluster } from './topology.js';

export type SystemPart = 'identity' | 'gateway' | 'controller';

type PodSpec = NonNullable<V1Pod['spec']>;
export type PodVolume = PodSpec['volumes'] extends (infer V)[] | undefined ? V : never;
export type PodVolumeMount = NonNullable<PodSpec['containers'][number]['volumeMounts']>[number];

/** What the lab has on this host for one part's process in one cluster. */
export interface LabPart {
  part: SystemPart;
  cluster: LabCluster;
  /** The part's kubeconfig: its service account's token for the cluster's sandbox API server. */
  kubeconfig: string;
  /** The lab's certificates: ca.crt, crl.pem, <cluster>/issuer.crt and issuer.key. */
  certs: string;
  /** The gateway's identity token, what its projected token volume holds in a pod; none for the others. */
  identityToken?: string;
}

/**
 * How the lab treats a flag it owns:
 * - `set`: the lab's value, whatever the Deployment says, added where it says nothing;
 * - `drop`: left out (meaningless outside a pod);
 * - `file`: a path in the pod, mapped through its volume mounts to the lab's file;
 * - `service`: an address of a Service of the cluster, mapped to the lab's address;
 * - `refuse`: the lab cannot run it (why).
 */
export type FlagRule = { set: string } | 'drop' | 'file' | 'service' | { refuse: string };

/** How a process talks to its API server: the part's kubeconfig, never the pod's account. */
const kubeFlags = (lab: LabPart): Record<string, FlagRule> => ({
  'in-cluster': 'drop',
  // The lab's kubeconfig has one context, its own.
  context: 'drop',
  kubeconfig: { set: lab.kubeconfig },
});

/** The flags the lab owns, per part; every other flag is the Deployment's (PASSED_AS_DECLARED). */
export function labFlags(lab: LabPart): Record<string, FlagRule> {
  const c = lab.cluster;
  switch (lab.part) {
    case 'identity':
      return {
        ...kubeFlags(lab),
        // Each lab identity has its own address: the pod's :8080, :9990, :9991 on every interface
        // would clash between the clusters.
        listen: { set: `${c.identity.host}:${c.identity.port}` },
        'health-listen': { set: `${c.identity.host}:${c.identity.healthPort}` },
        'admin-listen': { set: `${c.identity.host}:${c.identity.adminPort}` },
        'issuer-cert': 'file',
        'issuer-key': 'file',
        'trust-anchor': 'file',
        'crl-file': 'file',
      };
    case 'gateway':
      return {
        ...kubeFlags(lab),
        'ingress-host': { set: c.gateway.host },
        'ingress-port': { set: String(c.gateway.ingressPort) },
        'admin-host': { set: c.gateway.host },
        'admin-port': { set: String(c.gateway.adminPort) },
        'egress-host': { set: c.gateway.host },
        // The address its pod has and the mirrors' slices list (the Deployment's ISTHMUS_POD_IP from
        // status.podIPs gives the same): what the drain follows, were the lab's gateways to drain.
        'pod-ip': { set: c.gateway.host },
        // The drain lets a second replica take the traffic while endpoints catch up. The lab has one
        // address per process, so the next run starts only once this one has gone: a drain would
        // only lengthen the outage (and Ctrl-C), so its gateways stop at once.
        'drain-delay-ms': { set: '0' },
        'shutdown-grace-ms': { set: '0' },
        'identity-address': 'service',
        'token-file': 'file',
        'ca-file': 'file',
        'crl-file': 'file',
        'cert-file': 'file',
        'key-file': 'file',
      };
    case 'controller':
      return {
        ...kubeFlags(lab),
        'admin-host': { set: c.controller.host },
        'admin-port': { set: String(c.controller.adminPort) },
        'gateway-admin': 'service',
        'gateway-endpoints': {
          refuse: "the lab's gateway is found from its Service's EndpointSlices, not from pod addresses",
        },
      };
  }
}

/**
 * The flags that reach the process as the Deployment writes them, per part: settings, not places.
 * (The egress port range is ports on the lab's own egress address, the same in every cluster.)
 */
export const PASSED_AS_DECLARED: Readonly<Record<SystemPart, readonly string[]>> = {
  identity: [
    'cluster',
    'trust-domain',
    'service-name',
    'service-namespace',
    'cluster-domain',
    'serving-cert-lifetime',
    'cert-lifetime',
    'issuer-check-interval',
  ],
  gateway: [
    'cluster',
    'trust-domain',
    'cluster-domain',
    'system-namespace',
    'export-selector',
    'federated-selector',
    'allow-cluster',
    'egress-port-range',
    'connect-timeout-ms',
    'access-log',
    'dial-pod-ips-only',
    'max-tunnels',
    'max-sessions-per-peer',
    'max-sessions',
    'tunnel-idle-timeout-ms',
    'ingress-stream-window',
  ],
  controller: [
    'cluster',
    'no-gateway',
    'egress-port-range',
    'mirror-workers',
    'mirror-deletion-grace',
    'failover-controlled-by',
    'no-leader-elect',
    'log-level',
    'kube-qps',
    'kube-burst',
  ],
};

const REGISTER: Record<SystemPart, (program: Command) => void> = {
  identity: registerIdentity,
  gateway: registerGateway,
  controller: registerController,
};

/** The options of `isthmus <part>`, as the CLI declares them (the parser's own knowledge). */
export function commandOptions(part: SystemPart): readonly Option[] {
  const program = new Command();
  REGISTER[part](program);
  return program.commands[0]!.options;
}

/** A flag of the command with its value, as written (one argument, or two). */
interface FlagArg {
  /** Its long name, without the dashes. */
  name: string;
  value?: string;
  written: string[];
}

/** The option `--name` (or `-n`) is, as commander's Option.is() finds it. */
const optionNamed = (options: readonly Option[], arg: string) =>
  options.find((o) => o.long === arg || o.short === arg);

/** argv after the verb, read as commander reads it: flags of the command, everything else as written. */
function readArgs(args: readonly string[], options: readonly Option[]): (FlagArg | string)[] {
  const out: (FlagArg | string)[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const exact = optionNamed(options, arg);
    const next = args[i + 1];
    // A required value is the next argument whatever it is; an optional one unless it is an option.
    const takesNext = next !== undefined && (exact?.required || (exact?.optional && !next.startsWith('-')));
    const eq = arg.indexOf('=');
    const withValue = eq > 2 && arg.startsWith('--') ? optionNamed(options, arg.slice(0, eq)) : undefined;
    if (exact && takesNext) {
      out.push({ name: exact.long!.slice(2), value: next, written: [arg, next] });
      i++;
    } else if (exact) out.push({ name: exact.long!.slice(2), written: [arg] });
    else if (withValue && (withValue.required || withValue.optional))
      out.push({ name: withValue.long!.slice(2), value: arg.slice(eq + 1), written: [arg] });
    else out.push(arg);
  }
  return out;
}

export type Mapped<T> = { value: T } | { problem: string };

/** The lab's argv for `lab.part` from the container's argv after the verb, or why it cannot run. */
export function labArgv(
  args: readonly string[],
  volumes: readonly PodVolume[],
  mounts: readonly PodVolumeMount[],
  lab: LabPart,
): Mapped<string[]> {
  const rules = labFlags(lab);
  const out: string[] = [];
  for (const a of readArgs(args, commandOptions(lab.part))) {
    if (typeof a === 'string') {
      out.push(a);
      continue;
    }
    const rule = rules[a.name];
    if (rule === undefined) {
      out.push(...a.written);
      continue;
    }
    const written = a.written.join(' ');
    const mapped = mapValue(rule, a.value, volumes, mounts, lab);
    if ('problem' in mapped) return { problem: `${written}: ${mapped.problem}` };
    if (mapped.value !== undefined) out.push(`--${a.name}=${mapped.value}`);
  }
  for (const [name, rule] of Object.entries(rules))
    if (typeof rule === 'object' && 'set' in rule) out.push(`--${name}=${rule.set}`);
  return { value: out };
}

/**
 * The environment the gateway reads in place of a flag (gateway/config.ts GATEWAY_ENV), treated as
 * that flag: one the lab sets or drops is left out (its flag wins, or it has no place outside a
 * pod: ISTHMUS_IN_CLUSTER, KUBECONFIG), a path or a Service is mapped, one refused is a problem.
 * The other parts read no flag from their environment.
 */
export function labEnv(
  env: Readonly<Record<string, string>>,
  volumes: readonly PodVolume[],
  mounts: readonly PodVolumeMount[],
  lab: LabPart,
): Mapped<Record<string, string>> {
  if (lab.part !== 'gateway') return { value: { ...env } };
  const rules = labFlags(lab);
  const flagOf = new Map(
    Object.entries(GATEWAY_ENV).map(([key, name]) => [name, flagName(key as keyof GatewayFlags)]),
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    const rule = rules[flagOf.get(name) ?? ''];
    if (rule === undefined) {
      out[name] = value;
      continue;
    }
    const mapped = mapValue(rule, value, volumes, mounts, lab);
    if ('problem' in mapped) return { problem: `env ${name}=${value}: ${mapped.problem}` };
    if (mapped.value !== undefined) out[name] = mapped.value;
  }
  return { value: out };
}

/**
 * The value a flag the lab owns gets: undefined for none (a flag set by the lab comes once, at the
 * end; a dropped one not at all).
 */
function mapValue(
  rule: FlagRule,
  value: string | undefined,
  volumes: readonly PodVolume[],
  mounts: readonly PodVolumeMount[],
  lab: LabPart,
): Mapped<string | undefined> {
  if (rule === 'drop' || (typeof rule === 'object' && 'set' in rule)) return { value: undefined };
  if (typeof rule === 'object') return { problem: rule.refuse };
  if (value === undefined) return { value: undefined };
  if (rule === 'file') {
    const file = labFile(value, volumes, mounts, lab);
    return file === undefined
      ? {
          problem: `${value} is in no volume the lab has: it maps the ${ISSUER_SECRET} Secret, the ${TRUST_ANCHOR_CONFIGMAP} and ${CRL_CONFIGMAP} ConfigMaps and the gateway's ${IDENTITY_TOKEN_AUDIENCE} token`,
        }
      : { value: file };
  }
  const address = labServiceAddress(value, lab.cluster);
  return address === undefined
    ? {
        problem: `the lab runs only ${IDENTITY_SERVICE_NAME}:${PORTS.identity} and ${GATEWAY_SERVICE_NAME}-admin:${PORTS.admin} (${SYSTEM_NAMESPACE})`,
      }
    : { value: address };
}

/**
 * The lab's file for a path in the pod: the volume mounted there (by subPath, or the file of a
 * key in the mount's directory, `items` followed) and what the lab keeps for that volume's source.
 */
export function labFile(
  path: string,
  volumes: readonly PodVolume[],
  mounts: readonly PodVolumeMount[],
  lab: LabPart,
): string | undefined {
  const clean = posix.normalize(path);
  const mount = mounts
    .filter((m) =>
      m.subPath ? clean === m.mountPath : posix.dirname(clean) === posix.normalize(m.mountPath),
    )
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const volume = mount && volumes.find((v) => v.name === mount.name);
  if (!mount || !volume) return undefined;
  const file = mount.subPath ?? posix.basename(clean);
  const items = volume.secret?.items ?? volume.configMap?.items;
  const key = items ? items.find((i) => i.path === file)?.key : file;
  const certs = lab.certs;
  if (volume.secret?.secretName === ISSUER_SECRET)
    return {
      'tls.crt': join(certs, lab.cluster.name, 'issuer.crt'),
      'tls.key': join(certs, lab.cluster.name, 'issuer.key'),
    }[key ?? ''];
  if (volume.configMap?.name === TRUST_ANCHOR_CONFIGMAP && key === 'ca.crt') return join(certs, 'ca.crt');
  if (volume.configMap?.name === CRL_CONFIGMAP && key === CRL_BUNDLE_FILE)
    return join(certs, CRL_BUNDLE_FILE);
  const token = volume.projected?.sources?.some(
    (s) => s.serviceAccountToken?.audience === IDENTITY_TOKEN_AUDIENCE && s.serviceAccountToken.path === file,
  );
  return token ? lab.identityToken : undefined;
}

/** The lab's `host:port` for each Service port of isthmus-system it runs a process behind. */
function labServices(c: LabCluster): Record<string, string> {
  return {
    [`${IDENTITY_SERVICE_NAME}:${PORTS.identity}`]: `${c.identity.host}:${c.identity.port}`,
    [`${GATEWAY_SERVICE_NAME}-admin:${PORTS.admin}`]: `${c.gateway.host}:${c.gateway.adminPort}`,
    [`${GATEWAY_SERVICE_NAME}:${PORTS.ingress}`]: `${c.gateway.host}:${c.gateway.ingressPort}`,
  };
}

/**
 * The lab's address for a Service's `host:port` (or a URL's authority), as cluster DNS resolves it
 * from a pod of isthmus-system: `svc`, `svc.ns`, `svc.ns.svc` or `svc.ns.svc.<domain>`; one of the
 * lab's own addresses as it is.
 */
export function labServiceAddress(value: string, c: LabCluster): string | undefined {
  const url = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/i.exec(value);
  const [prefix, authority, rest] = url ? [url[1]!, url[2]!, url[3]!] : ['', value, ''];
  const services = labServices(c);
  if (Object.values(services).includes(authority)) return value;
  const m = /^([^.:]+)(?:\.([^.:]+)(?:\.svc(?:\.[^:]*)?)?)?:(\d+)$/.exec(authority);
  if (!m || (m[2] ?? SYSTEM_NAMESPACE) !== SYSTEM_NAMESPACE) return undefined;
  const address = services[`${m[1]}:${m[3]}`];
  return address === undefined ? undefined : prefix + address + rest;
}
