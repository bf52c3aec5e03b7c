/**
 * The gateway's configuration: one validated, plain object built from flags and environment by a
 * pure function, so the CLI (commander), `main.ts` (node:util parseArgs) and tests share one parser
 * and one set of error messages. Every problem is reported at once, as a USAGE error.
 */

import { isIP } from 'node:net';
import { delimiter } from 'node:path';
import { parseArgs } from 'node:util';
import { IsthmusError } from '../errors.js';
import { anyAddress } from '../host-port.js';
import {
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_EXPORT_SELECTOR,
  DEFAULT_FEDERATED_SELECTOR,
  PORTS,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { parseLabelSelector, SelectorError } from '../kube/validation/selectors.js';
import { DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_PEER } from './session-caps.js';
import {
  DEFAULT_INGRESS_STREAM_WINDOW_BYTES,
  MAX_INGRESS_STREAM_WINDOW_BYTES,
  MIN_INGRESS_STREAM_WINDOW_BYTES,
} from './tunnel-settings.js';

export type CertificateSource =
  /** Ask the identity service (`Certify`) for a certificate, authenticated by a projected token. */
  | { kind: 'certify'; identityAddress: string; tokenFile: string; caFile: string }
  /** PEM files written by `isthmus certs` (or a Secret mount); re-read at each renewal. */
  | { kind: 'files'; certFile: string; keyFile: string; caFile: string };

/**
 * `paths`: --kubeconfig's one file, or $KUBECONFIG's list (merged as kubectl merges it: files that
 * do not exist are skipped).
 */
export type KubeSource = { kind: 'in-cluster' } | { kind: 'kubeconfig'; paths: string[]; context?: string };

export interface HostPort {
  host: string;
  port: number;
}

export interface GatewayLimits {
  /** How long the egress side waits for a remote gateway to answer a CONNECT. */
  connectTimeoutMs: number;
  /** Debounce of mirror changes before the egress listeners are re-applied. */
  egressApplyDebounceMs: number;
  /**
   * Tunnels the ingress holds at once (open or dialling); a CONNECT beyond them gets 503. It bounds
   * what a loop of tunnels or a flood can take of memory and file descriptors (--max-tunnels).
   */
  maxTunnels: number;
  /**
   * Established ingress sessions one peer cluster may hold, and all peers together; one beyond is
   * turned away (--max-sessions-per-peer, --max-sessions; session-caps.ts).
   */
  maxSessionsPerPeer: number;
  maxSessions: number;
  /**
   * A tunnel that carries no byte either way for this long is cut (--tunnel-idle-timeout-ms);
   * 0, the default, never: an idle database connection held for hours is legitimate.
   */
  tunnelIdleTimeoutMs: number;
  /**
   * The HTTP/2 stream window the ingress advertises (--ingress-stream-window): what a peer may have
   * in flight on one tunnel. The trade-off: a tunnel uploads at most ~window ÷ RTT (1 MiB at 20 ms:
   * ~37 MiB/s measured; 256 KiB: ~11 MiB/s), and a loaded tunnel (its backend does not read) holds
   * up to ~the window in this gateway (measured over ~2,100 such tunnels: ~78 KiB of RSS each at
   * 1 MiB, ~29 KiB at 256 KiB, beyond what the kernel's socket buffers hold). Lower it when many
   * peers' tunnels may stall against slow backends and memory is tight; 64 KiB to 16 MiB.
   */
  ingressStreamWindowBytes: number;
  /**
   * An ingress session with no stream for this long gets a GOAWAY: a peer's pool reconnects on its
   * next tunnel, and a linked peer's probes (every few seconds, as streams) keep a used one open.
   */
  idleSessionTimeoutMs: number;
}

/** A graceful stop (SIGTERM): see RunningGateway.shutdown. */
export interface ShutdownConfig {
  /** Not ready, still serving, for this long after the signal: load balancers and endpoints catch up. */
  drainDelayMs: number;
  /** From the signal until the tunnels still open are cut (the drain delay included). */
  graceMs: number;
}

export interface GatewayConfig {
  clusterName: string;
  trustDomain: string;
  clusterDomain: string;
  /** Namespace holding the Links whose target clusters the ingress admits. */
  systemNamespace: string;
  kube: KubeSource;
  ingress: HostPort;
  admin: HostPort;
  /** Address the egress listeners bind (all of the pod's by default, or 127.0.x.y in the lab). */
  egressHost: string;
  /**
   * This pod's addresses, as the mirror controller lists them in the mirrors' EndpointSlices: the
   * drain keeps the egress listeners open while a slice still lists one (gateway-shutdown.ts).
   * From --pod-ip (the install sets ISTHMUS_POD_IP from the downward API's `status.podIPs`), else
   * --egress-host when it is one address without a zone (the lab's 127.0.x.y); empty: unknown,
   * and the drain keeps to the fixed delay.
   */
  podIPs: string[];
  /** Label selector (string form) of the Services this gateway exports. */
  exportSelector: string;
  /**
   * Label selector of federated member Services, admitted at the ingress like exported ones;
   * '' turns federated admission off.
   */
  federatedSelector: string;
  /** Clusters admitted in addition to the targets of local Links. */
  allowedClusters: string[];
  /**
   * The ports the mirror controller allocates egress listeners from (its `--egress-port-range`): a
   * mirror claiming a port outside them was not written by the controller and is not routed.
   */
  egressPortRange: { first: number; last: number };
  certificates: CertificateSource;
  /** PEM bundle of CRLs (trust anchor's and issuers'), re-read when it changes; absent: none. */
  crlFile?: string;
  limits: GatewayLimits;
  shutdown: ShutdownConfig;
  /** One info line per tunnel (and per refused one), as Envoy's and Linkerd's access logs give. */
  accessLog: boolean;
  /**
   * The ingress dials only addresses that are the IP of a live Pod of the Service's namespace
   * (pod-ips.ts), at the cost of a cluster-wide Pod informer and the right to list Pods.
   */
  dialPodIPsOnly: boolean;
}

/** Flags as the CLI hands them over: strings (or string lists), all optional. */
export interface GatewayFlags {
  cluster?: string;
  trustDomain?: string;
  clusterDomain?: string;
  systemNamespace?: string;
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
  ingressHost?: string;
  ingressPort?: string | number;
  adminHost?: string;
  adminPort?: string | number;
  egressHost?: string;
  /** Comma-separated, as the downward API gives `status.podIPs` (`10.1.2.3,fd00::3`). */
  podIp?: string;
  egressPortRange?: string;
  exportSelector?: string;
  federatedSelector?: string;
  allowCluster?: string[] | string;
  identityAddress?: string;
  tokenFile?: string;
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  crlFile?: string;
  connectTimeoutMs?: string | number;
  drainDelayMs?: string | number;
  shutdownGraceMs?: string | number;
  accessLog?: boolean;
  dialPodIpsOnly?: boolean;
  maxTunnels?: string | number;
  maxSessionsPerPeer?: string | number;
  maxSessions?: string | number;
  tunnelIdleTimeoutMs?: string | number;
  ingressStreamWindow?: string | number;
}

/** Environment variables read when a flag is absent (the Deployment sets these). */
export const GATEWAY_ENV: Readonly<Record<keyof GatewayFlags, string>> = {
  cluster: 'ISTHMUS_CLUSTER_NAME',
  trustDomain: 'ISTHMUS_TRUST_DOMAIN',
  clusterDomain: 'ISTHMUS_CLUSTER_DOMAIN',
  systemNamespace: 'ISTHMUS_NAMESPACE',
  kubeconfig: 'KUBECONFIG',
  context: 'ISTHMUS_KUBE_CONTEXT',
  inCluster: 'ISTHMUS_IN_CLUSTER',
  ingressHost: 'ISTHMUS_INGRESS_HOST',
  ingressPort: 'ISTHMUS_INGRESS_PORT',
  adminHost: 'ISTHMUS_ADMIN_HOST',
  adminPort: 'ISTHMUS_ADMIN_PORT',
  egressHost: 'ISTHMUS_EGRESS_HOST',
  podIp: 'ISTHMUS_POD_IP',
  egressPortRange: 'ISTHMUS_EGRESS_PORT_RANGE',
  exportSelector: 'ISTHMUS_EXPORT_SELECTOR',
  federatedSelector: 'ISTHMUS_FEDERATED_SELECTOR',
  allowCluster: 'ISTHMUS_ALLOW_CLUSTERS',
  identityAddress: 'ISTHMUS_IDENTITY_ADDRESS',
  tokenFile: 'ISTHMUS_TOKEN_FILE',
  certFile: 'ISTHMUS_CERT_FILE',
  keyFile: 'ISTHMUS_KEY_FILE',
  caFile: 'ISTHMUS_CA_FILE',
  crlFile: 'ISTHMUS_CRL_FILE',
  connectTimeoutMs: 'ISTHMUS_CONNECT_TIMEOUT_MS',
  drainDelayMs: 'ISTHMUS_DRAIN_DELAY_MS',
  shutdownGraceMs: 'ISTHMUS_SHUTDOWN_GRACE_MS',
  accessLog: 'ISTHMUS_ACCESS_LOG',
  dialPodIpsOnly: 'ISTHMUS_DIAL_POD_IPS_ONLY',
  maxTunnels: 'ISTHMUS_MAX_TUNNELS',
  maxSessionsPerPeer: 'ISTHMUS_MAX_SESSIONS_PER_PEER',
  maxSessions: 'ISTHMUS_MAX_SESSIONS',
  tunnelIdleTimeoutMs: 'ISTHMUS_TUNNEL_IDLE_TIMEOUT_MS',
  ingressStreamWindow: 'ISTHMUS_INGRESS_STREAM_WINDOW',
};

/** RFC 1123 label: what Kubernetes accepts as a cluster-ish name and what fits in a SPIFFE path. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** RFC 1123 subdomain, used for trust and cluster domains. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DEFAULT_TRUST_DOMAIN = 'cluster.local';
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_EGRESS_DEBOUNCE_MS = 20;
/**
 * --max-tunnels: an idle gateway takes ~120 MiB and each tunnel up to ~27 KiB more
 * (docs/benchmarks.md; a loop's ingress tunnel and its egress twin in the same gateway ~19 KiB in
 * the security review), so 10,000 tunnels stay near 390 MiB, under the install's 512 Mi limit
 * (src/cli/install/resources.ts) with room for garbage; 20,000 would not. Raise both together.
 * A loaded tunnel (its backend does not read) holds up to the ingress's stream window
 * (--ingress-stream-window, 1 MiB by default): ~78 KiB of RSS each at 1 MiB and ~29 KiB at 256 KiB
 * over ~2,100 such tunnels, the rest in kernel socket buffers, which a pod's memory cgroup counts
 * too. Many loaded tunnels at 1 MiB can pass the memory limit: lower the window (or --max-tunnels)
 * where peers may stall against slow backends.
 */
export const DEFAULT_MAX_TUNNELS = 10_000;
/** Sessions unused this long are closed; a linked peer's probes (every 3 s by default) keep theirs. */
export const DEFAULT_IDLE_SESSION_TIMEOUT_MS = 10 * 60_000;

/**
 * Builds a validated GatewayConfig. Flags win over environment variables; the environment is
 * passed in (not read from process.env) so that the function stays pure.
 */
export function gatewayOptionsFromFlags(
  flags: GatewayFlags,
  env: Readonly<Record<string, string | undefined>> = {},
): GatewayConfig {
  const problems: string[] = [];
  const pick = <K extends keyof GatewayFlags>(key: K): GatewayFlags[K] | string | undefined => {
    const value = flags[key];
    if (value !== undefined && value !== '') return value;
    const fromEnv = env[GATEWAY_ENV[key]];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  const text = (key: keyof GatewayFlags): string | undefined => {
    const v = pick(key);
    return v === undefined ? undefined : String(v).trim();
  };

  const clusterName = text('cluster') ?? '';
  if (clusterName === '') problems.push('--cluster is required');
  else if (!DNS_LABEL.test(clusterName)) problems.push(`--cluster "${clusterName}" is not a DNS label`);

  // Linkerd's default trust domain, and what `isthmus certs`/`install` default to.
  const trustDomain = text('trustDomain') ?? DEFAULT_TRUST_DOMAIN;
  if (!DNS_SUBDOMAIN.test(trustDomain)) problems.push(`--trust-domain "${trustDomain}" is not a DNS name`);
  const clusterDomain = text('clusterDomain') ?? DEFAULT_CLUSTER_DOMAIN;
  if (!DNS_SUBDOMAIN.test(clusterDomain))
    problems.push(`--cluster-domain "${clusterDomain}" is not a DNS name`);
  const systemNamespace = text('systemNamespace') ?? SYSTEM_NAMESPACE;
  if (!DNS_LABEL.test(systemNamespace))
    problems.push(`--system-namespace "${systemNamespace}" is not a DNS label`);

  const kubeconfigFlag = flags.kubeconfig?.trim();
  const kube = kubeSource(
    kubeconfigFlag
      ? [kubeconfigFlag]
      : text('kubeconfig')
          ?.split(delimiter)
          .filter((f) => f !== ''),
    text('context'),
    bool(pick('inCluster'), '--in-cluster', problems),
    problems,
  );

  const ingress = {
    host: host(text('ingressHost') ?? anyAddress(), '--ingress-host', problems),
    port: port(pick('ingressPort'), PORTS.ingress, '--ingress-port', problems),
  };
  const admin = {
    host: host(text('adminHost') ?? anyAddress(), '--admin-host', problems),
    port: port(pick('adminPort'), PORTS.admin, '--admin-port', problems),
  };
  const egressHost = host(text('egressHost') ?? anyAddress(), '--egress-host', problems);
  const podIPs = podAddresses(text('podIp'), egressHost, problems);
  const egressPortRange = portRange(text('egressPortRange'), problems);
  const exportSelector = text('exportSelector') ?? DEFAULT_EXPORT_SELECTOR;
  if (exportSelector === '') problems.push('--export-selector may not be empty');
  else checkSelector(exportSelector, '--export-selector', problems);
  const federatedSelector = federatedSelectorOf(flags, env);
  if (federatedSelector !== '') checkSelector(federatedSelector, '--federated-selector', problems);

  const allowedClusters = splitList(pick('allowCluster'));
  for (const c of allowedClusters) {
    if (!DNS_LABEL.test(c)) problems.push(`--allow-cluster "${c}" is not a DNS label`);
  }

  const certificates = certificateSource(flags, text, problems);
  const crlFile = text('crlFile');
  const connectTimeoutMs = integer(
    pick('connectTimeoutMs'),
    DEFAULT_CONNECT_TIMEOUT_MS,
    1,
    '--connect-timeout-ms',
    problems,
  );
  // 0/0, the default, stops at once: right for a lab or a test; the install's Deployment drains.
  const shutdown = {
    drainDelayMs: integer(pick('drainDelayMs'), 0, 0, '--drain-delay-ms', problems),
    graceMs: integer(pick('shutdownGraceMs'), 0, 0, '--shutdown-grace-ms', problems),
  };
  if (shutdown.drainDelayMs > shutdown.graceMs) {
    problems.push(
      `--drain-delay-ms ${shutdown.drainDelayMs} exceeds --shutdown-grace-ms ${shutdown.graceMs} (the grace includes the delay)`,
    );
  }

  const maxTunnels = integer(pick('maxTunnels'), DEFAULT_MAX_TUNNELS, 1, '--max-tunnels', problems);
  const maxSessionsPerPeer = integer(
    pick('maxSessionsPerPeer'),
    DEFAULT_MAX_SESSIONS_PER_PEER,
    1,
    '--max-sessions-per-peer',
    problems,
  );
  const maxSessions = integer(pick('maxSessions'), DEFAULT_MAX_SESSIONS, 1, '--max-sessions', problems);
  // setTimeout's range: a longer delay would fire at once and cut every tunnel.
  const tunnelIdleTimeoutMs = integer(
    pick('tunnelIdleTimeoutMs'),
    0,
    0,
    '--tunnel-idle-timeout-ms',
    problems,
    MAX_TIMEOUT_MS,
  );
  const ingressStreamWindowBytes = integer(
    pick('ingressStreamWindow'),
    DEFAULT_INGRESS_STREAM_WINDOW_BYTES,
    MIN_INGRESS_STREAM_WINDOW_BYTES,
    '--ingress-stream-window',
    problems,
    MAX_INGRESS_STREAM_WINDOW_BYTES,
  );
  const accessLog = bool(pick('accessLog'), '--access-log', problems);
  const dialPodIPsOnly = bool(pick('dialPodIpsOnly'), '--dial-pod-ips-only', problems);

  if (problems.length > 0) {
    throw new IsthmusError('USAGE', `invalid gateway configuration: ${problems.join('; ')}`, {
      terminal: true,
    });
  }
  return {
    clusterName,
    trustDomain,
    clusterDomain,
    systemNamespace,
    kube,
    ingress,
    admin,
    egressHost,
    podIPs,
    exportSelector,
    federatedSelector,
    allowedClusters: [...new Set(allowedClusters)],
    egressPortRange,
    certificates,
    ...(crlFile === undefined ? {} : { crlFile }),
    limits: {
      connectTimeoutMs,
      egressApplyDebounceMs: DEFAULT_EGRESS_DEBOUNCE_MS,
      maxTunnels,
      maxSessionsPerPeer,
      maxSessions,
      tunnelIdleTimeoutMs,
      ingressStreamWindowBytes,
      idleSessionTimeoutMs: DEFAULT_IDLE_SESSION_TIMEOUT_MS,
    },
    shutdown,
    accessLog,
    dialPodIPsOnly,
  };
}

function kubeSource(
  paths: string[] | undefined,
  context: string | undefined,
  inCluster: boolean,
  problems: string[],
): KubeSource {
  if (inCluster) {
    // Either one alone would otherwise be dropped without a word.
    if (paths !== undefined || context !== undefined)
      problems.push('--in-cluster excludes --kubeconfig (or KUBECONFIG) and --context');
    return { kind: 'in-cluster' };
  }
  if (paths === undefined || paths.length === 0) {
    problems.push('--kubeconfig (or KUBECONFIG) is required unless --in-cluster');
    return { kind: 'in-cluster' };
  }
  return context === undefined ? { kind: 'kubeconfig', paths } : { kind: 'kubeconfig', paths, context };
}

/**
 * Where the gateway certificate comes from. `--ca-file` (the trust anchor, a ConfigMap mount in a
 * cluster) is needed either way: it is what peers are verified against, and the identity
 * service's own TLS certificate too.
 */
function certificateSource(
  flags: GatewayFlags,
  text: (key: keyof GatewayFlags) => string | undefined,
  problems: string[],
): CertificateSource {
  const byFlag = {
    certify: flags.identityAddress !== undefined,
    files: flags.certFile !== undefined || flags.keyFile !== undefined,
  };
  if (byFlag.certify && byFlag.files)
    problems.push('choose either --identity-address or --cert-file/--key-file');
  // Both from the environment: no flag says which one is meant, so neither is silently dropped.
  const env = (key: keyof GatewayFlags): boolean => flags[key] === undefined && text(key) !== undefined;
  if (!byFlag.certify && !byFlag.files && env('identityAddress') && (env('certFile') || env('keyFile')))
    problems.push(
      `choose either ${GATEWAY_ENV.identityAddress} or ${GATEWAY_ENV.certFile}/${GATEWAY_ENV.keyFile}`,
    );
  const caFile = text('caFile');
  if (caFile === undefined) problems.push('--ca-file (the trust anchor) is required');
  // Flags beat the environment: an explicit --cert-file wins over an inherited identity address.
  const useCertify = byFlag.certify || (!byFlag.files && text('identityAddress') !== undefined);
  if (useCertify) {
    const tokenFile = text('tokenFile');
    if (tokenFile === undefined) problems.push('--identity-address needs --token-file');
    return {
      kind: 'certify',
      identityAddress: text('identityAddress') ?? '',
      tokenFile: tokenFile ?? '',
      caFile: caFile ?? '',
    };
  }
  const certFile = text('certFile');
  const keyFile = text('keyFile');
  if (certFile === undefined && keyFile === undefined) {
    problems.push('certificates: give --identity-address and --token-file, or --cert-file and --key-file');
  } else {
    if (certFile === undefined) problems.push('--cert-file is required with --key-file');
    if (keyFile === undefined) problems.push('--key-file is required with --cert-file');
  }
  return { kind: 'files', certFile: certFile ?? '', keyFile: keyFile ?? '', caFile: caFile ?? '' };
}

/**
 * Unlike other flags, an empty value is not "absent" here: '' (flag or environment) turns federated
 * admission off, so only an unset flag and an unset variable give the default.
 */
function federatedSelectorOf(flags: GatewayFlags, env: Readonly<Record<string, string | undefined>>): string {
  const given = flags.federatedSelector ?? env[GATEWAY_ENV.federatedSelector];
  return given === undefined ? DEFAULT_FEDERATED_SELECTOR : String(given).trim();
}

/**
 * Parsed as kube-apiserver parses `labelSelector` (apimachinery's labels.Parse): a typo stops the
 * start here instead of failing every list with 400 and leaving the gateway unready for good.
 */
function checkSelector(value: string, flag: string, problems: string[]): void {
  try {
    parseLabelSelector(value);
  } catch (err) {
    if (!(err instanceof SelectorError)) throw err;
    problems.push(`${flag} ${JSON.stringify(value)}: ${err.message}`);
  }
}

function host(value: string, flag: string, problems: string[]): string {
  if (isIP(value) !== 0 || value === 'localhost' || DNS_SUBDOMAIN.test(value)) return value;
  problems.push(`${flag} "${value}" is not an IP address or host name`);
  return value;
}

/**
 * `--pod-ip`: every address must be an IP of its own (not `0.0.0.0` or `::`, which name no endpoint),
 * each kept once, and without a zone. Absent, `--egress-host` when that is one such address: the
 * listeners answer there only, so a slice that sends callers here names it. A host name, an address
 * of every interface or a zone-scoped one says nothing of the pod's: none.
 */
function podAddresses(value: string | undefined, egressHost: string, problems: string[]): string[] {
  // 0.0.0.0 and :: (in any spelling) are what a server binds for every interface.
  const specific = (a: string): boolean =>
    isIP(a) === 4 ? a !== '0.0.0.0' : isIP(a) === 6 && !/^[0:]+$/.test(a);
  // net.isIP takes an IPv6 zone (`fe80::1%eth0`, RFC 4007 §11), which names the interface a
  // link-local address is on: no EndpointSlice lists one (the API server refuses it), so it says
  // nothing of what the slices list.
  const zone = (a: string): string | undefined => (isIP(a) === 6 ? /%.*$/.exec(a)?.[0] : undefined);
  if (value === undefined) return specific(egressHost) && zone(egressHost) === undefined ? [egressHost] : [];
  const addresses = splitList(value);
  for (const a of addresses) {
    if (!specific(a)) problems.push(`--pod-ip "${a}" is not an IP address of a pod`);
    else if (zone(a) !== undefined)
      problems.push(`--pod-ip "${a}" has a zone (${zone(a)}): EndpointSlices list pod addresses without one`);
  }
  if (addresses.length === 0) problems.push(`--pod-ip "${value}" names no address`);
  return [...new Set(addresses)];
}

/** Port 0 is allowed: it asks the OS for a free port, which tests and the lab rely on. */
function port(value: unknown, fallback: number, flag: string, problems: string[]): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    problems.push(`${flag} "${String(value)}" is not a port number`);
    return fallback;
  }
  return n;
}

/** An integer (of milliseconds, or a count), at least `min`. */
function integer(
  value: unknown,
  fallback: number,
  min: number,
  flag: string,
  problems: string[],
  max = Number.POSITIVE_INFINITY,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (Number.isInteger(n) && n >= min && n <= max) return n;
  problems.push(
    Number.isFinite(max)
      ? `${flag} "${String(value)}" is not an integer from ${min} to ${max}`
      : `${flag} "${String(value)}" is not ${min > 0 ? 'a positive' : 'a non-negative'} integer`,
  );
  return fallback;
}

/** setTimeout's longest delay (2^31 − 1 ms): a longer one fires at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * A boolean flag, or its variable: true/false or 1/0 in any case. Anything else is a problem, not
 * false: `ISTHMUS_ACCESS_LOG=yes` would otherwise leave the access log off without a word.
 */
function bool(value: unknown, flag: string, problems: string[]): boolean {
  if (value === undefined || typeof value === 'boolean') return value === true;
  const text = String(value).trim().toLowerCase();
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  problems.push(`${flag} "${String(value)}" is not true or false (1 or 0)`);
  return false;
}

/** `--egress-port-range FIRST-LAST`, as the controller takes it; absent: the controller's default. */
function portRange(value: string | undefined, problems: string[]): { first: number; last: number } {
  if (value === undefined) return PORTS.egressRange;
  const m = /^(\d+)-(\d+)$/.exec(value);
  const [first, last] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!m || first < 1024 || last > 65535 || first > last) {
    problems.push(`--egress-port-range "${value}" is not FIRST-LAST within 1024-65535`);
    return PORTS.egressRange;
  }
  return { first, last };
}

/**
 * Accepts repeated flags and comma-separated values alike (`--allow-cluster a,b --allow-cluster c`,
 * or the variable's `a, b`); `isthmus check` reads a gateway Deployment's lists with it too.
 */
export function splitList(value: unknown): string[] {
  if (value === undefined) return [];
  const parts = Array.isArray(value) ? value.map(String) : [String(value)];
  return parts
    .flatMap((p) => p.split(','))
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/** The command-line name of a flag: `--allow-cluster` for `allowCluster`, as commander derives it. */
export function flagName(key: keyof GatewayFlags): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

const FLAG_KEYS = Object.keys(GATEWAY_ENV) as Array<keyof GatewayFlags>;
/** The switches: `--access-log`, not `--access-log true`. */
const BOOLEAN_FLAGS: ReadonlySet<keyof GatewayFlags> = new Set(['inCluster', 'accessLog', 'dialPodIpsOnly']);

/**
 * Parses `--flag value` arguments into GatewayFlags (node:util parseArgs, strict: an unknown flag
 * is a USAGE error rather than silently ignored).
 */
export function gatewayFlagsFromArgv(argv: readonly string[]): GatewayFlags {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const key of FLAG_KEYS) {
    options[flagName(key)] = BOOLEAN_FLAGS.has(key)
      ? { type: 'boolean' }
      : key === 'allowCluster'
        ? { type: 'string', multiple: true }
        : { type: 'string' };
  }
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new IsthmusError('USAGE', (err as Error).message, { cause: err, terminal: true });
  }
  const flags: Record<string, unknown> = {};
  for (const key of FLAG_KEYS) {
    if (values[flagName(key)] !== undefined) flags[key] = values[flagName(key)];
  }
  return flags as GatewayFlags;
}

/** The inverse of gatewayFlagsFromArgv: arguments that start a gateway process (tests, the lab). */
export function gatewayArgvFromFlags(flags: GatewayFlags): string[] {
  const args: string[] = [];
  for (const key of FLAG_KEYS) {
    const value = flags[key];
    if (value === undefined || value === false) continue;
    if (value === true) args.push(`--${flagName(key)}`);
    else for (const v of Array.isArray(value) ? value : [value]) args.push(`--${flagName(key)}`, String(v));
  }
  return args;
}
