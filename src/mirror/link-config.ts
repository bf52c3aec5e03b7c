/**
 * Turns a Link object into the validated, defaulted configuration a LinkWatcher runs on.
 * Pure: an invalid Link yields a reason for its status condition, never a throw (a crash would take
 * every other Link of the process down with it).
 */
import {
  DEFAULT_CLUSTER_DOMAIN,
  EXPORTED_LABEL,
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
  PORTS,
  REMOTE_DISCOVERY_EXPORT,
} from '../kube/keys.js';
import type { Link, V1LabelSelector } from '../kube/types.js';
import { gatewayAddressProblem, keyPatternProblem, labelSelectorProblem } from './link-validation.js';

export interface ProbeConfig {
  path: string;
  /** The remote gateway's admin port (informational: the local gateway's /probe chooses the route). */
  port: number;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
}

export interface LinkConfig {
  linkNamespace: string;
  linkName: string;
  clusterName: string;
  clusterDomain: string;
  credentialsSecret: string;
  /**
   * false: the Link has no `gatewayAddress` (`isthmus link --no-gateway`, Linkerd's
   * `--gateway=false`): a flat network where only remote-discovery Services and federated members
   * are mirrored, both with the remote pods as endpoints, and no remote gateway is watched or probed.
   */
  hasGateway: boolean;
  /** From spec.gatewayAddress: the fallback when the remote isthmus-gateway Service has no LB ingress. */
  gatewayAddresses: string[];
  gatewayPort: number;
  gatewayIdentity?: string;
  probe: ProbeConfig;
  /** null: the Link has an empty selector and mirrors nothing. */
  selector: V1LabelSelector | null;
  /** Remote federated members (mirrored too, and labelled with their federation); null: none. */
  federatedServiceSelector: V1LabelSelector | null;
  /**
   * Remote Services mirrored in remote-discovery mode: their endpoints are the remote pods'
   * addresses, dialled directly (flat network), not the local gateway; null: none.
   */
  remoteDiscoverySelector: V1LabelSelector | null;
  excludedLabels: string[];
  excludedAnnotations: string[];
  /** Entries of those lists that are neither a key nor `prefix/*`, and why: left out, not fatal. */
  ignoredExclusions: string[];
  mirrorHeadless: boolean;
  /** Create a mirror's missing namespace (labelled as a mirror of this cluster) instead of waiting. */
  enableNamespaceCreation: boolean;
}

/**
 * Syncs in flight per Link. A sync is two sequential writes (the Service, then its slice, which
 * needs the Service's uid), so the queue's concurrency is what keeps the API server's pipeline full:
 * in the mirror benchmark 4 workers per Link left both processes partly idle (sync ~1.75× the
 * floor) and 16 brought it to ~1.35×, with the same peak RSS. kube-controller-manager's
 * `--concurrent-*-syncs` are the same kind of knob (`isthmus controller --mirror-workers`).
 */
export const DEFAULT_MIRROR_WORKERS = 16;

export type ParsedLink = { ok: true; config: LinkConfig } | { ok: false; reason: string };

/** Defaults of the CRD (manifests/crds/links.multicluster.isthmus.dev.yaml), repeated for API servers that do not default. */
export const PROBE_DEFAULTS: ProbeConfig = {
  path: '/ready',
  port: PORTS.admin,
  periodMs: 3000,
  timeoutMs: 2000,
  failureThreshold: 3,
};

export const DEFAULT_SELECTOR: V1LabelSelector = { matchLabels: { [EXPORTED_LABEL]: 'true' } };
/** Linkerd 2.17's default `federatedServiceSelector`. */
export const DEFAULT_FEDERATED_SERVICE_SELECTOR: V1LabelSelector = {
  matchLabels: { [FEDERATED_LABEL]: FEDERATED_MEMBER },
};
/** Linkerd 2.14's default `remoteDiscoverySelector`. */
export const DEFAULT_REMOTE_DISCOVERY_SELECTOR: V1LabelSelector = {
  matchLabels: { [EXPORTED_LABEL]: REMOTE_DISCOVERY_EXPORT },
};

// RFC 1123 label (Kubernetes DNS label): a cluster name ends up in every mirror name.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration ("3s", "1m30s", "500ms"); undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * (DURATION_UNIT_MS[m[2] ?? 's'] ?? 0);
  }
  return total;
}

/**
 * What a Link needs of the local cluster. `localGateway: false`: this cluster has no gateway
 * (`isthmus install --no-gateway`), so a Link with one has nothing to send its callers through.
 */
export interface LocalCapabilities {
  localGateway: boolean;
  /** This cluster's name, when known: a Link to it would mirror its own Services back into it. */
  localCluster?: string;
}

export const NO_LOCAL_GATEWAY_REASON =
  'gatewayAddress is set, but this cluster has no gateway of its own (isthmus install --no-gateway) to reach it through: re-link with `isthmus link --no-gateway`, or install a gateway here';

export function parseLinkSpec(link: Link, local: LocalCapabilities = { localGateway: true }): ParsedLink {
  const spec = link.spec;
  const meta = link.metadata ?? {};
  if (!spec || typeof spec !== 'object') return { ok: false, reason: 'spec is missing' };
  const clusterName = spec.targetClusterName;
  if (typeof clusterName !== 'string' || !DNS_LABEL.test(clusterName) || clusterName.length > 63) {
    return { ok: false, reason: `targetClusterName ${JSON.stringify(clusterName)} is not a DNS label` };
  }
  if (local.localCluster !== undefined && clusterName === local.localCluster) {
    return {
      ok: false,
      reason: `targetClusterName ${clusterName} is this cluster: a cluster is not linked to itself (was \`isthmus link\` given the wrong --context?)`,
    };
  }
  const clusterDomain = spec.targetClusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
  if (!DNS_SUBDOMAIN.test(clusterDomain)) {
    return { ok: false, reason: `targetClusterDomain ${JSON.stringify(clusterDomain)} is not a DNS name` };
  }
  if (typeof spec.clusterCredentialsSecret !== 'string' || spec.clusterCredentialsSecret === '') {
    return { ok: false, reason: 'clusterCredentialsSecret is required' };
  }
  const hasGateway = spec.gatewayAddress !== undefined;
  if (hasGateway && !local.localGateway) return { ok: false, reason: NO_LOCAL_GATEWAY_REASON };
  const gatewayAddresses = splitAddresses(spec.gatewayAddress);
  if (hasGateway && gatewayAddresses.length === 0) {
    return {
      ok: false,
      reason: 'gatewayAddress lists no address (leave it out for a Link without a gateway)',
    };
  }
  for (const address of gatewayAddresses) {
    const problem = gatewayAddressProblem(address, 'in gatewayPort');
    if (problem) return { ok: false, reason: `gatewayAddress: ${problem}` };
  }
  const gatewayPort = spec.gatewayPort ?? PORTS.ingress;
  if (!isPort(gatewayPort)) return { ok: false, reason: `gatewayPort ${gatewayPort} is out of range` };

  const probe = parseProbe(spec.probeSpec ?? {});
  if (typeof probe === 'string') return { ok: false, reason: probe };

  // Without a gateway, exports (reached through it) default to none; federated members are then
  // mirrored in remote-discovery mode (RemoteCluster.lookup), as Linkerd's always are.
  const selector = parseSelector('selector', spec.selector, hasGateway ? DEFAULT_SELECTOR : null);
  if (typeof selector === 'string') return { ok: false, reason: selector };
  if (!hasGateway && selector) {
    return {
      ok: false,
      reason:
        'selector picks Services reached through the remote gateway, and the Link has no gatewayAddress: give it one, or leave selector out (a Link without a gateway mirrors remote-discovery Services and federated members only)',
    };
  }
  const federatedServiceSelector = parseSelector(
    'federatedServiceSelector',
    spec.federatedServiceSelector,
    DEFAULT_FEDERATED_SERVICE_SELECTOR,
  );
  if (typeof federatedServiceSelector === 'string') return { ok: false, reason: federatedServiceSelector };
  const remoteDiscoverySelector = parseSelector(
    'remoteDiscoverySelector',
    spec.remoteDiscoverySelector,
    DEFAULT_REMOTE_DISCOVERY_SELECTOR,
  );
  if (typeof remoteDiscoverySelector === 'string') return { ok: false, reason: remoteDiscoverySelector };
  const ignoredExclusions: string[] = [];
  const excludedLabels = keyPatterns('excludedLabels', spec.excludedLabels, 'label', ignoredExclusions);
  const excludedAnnotations = keyPatterns(
    'excludedAnnotations',
    spec.excludedAnnotations,
    'annotation',
    ignoredExclusions,
  );

  const config: LinkConfig = {
    linkNamespace: meta.namespace ?? '',
    linkName: meta.name ?? '',
    clusterName,
    clusterDomain,
    credentialsSecret: spec.clusterCredentialsSecret,
    hasGateway,
    gatewayAddresses,
    gatewayPort,
    probe,
    selector,
    federatedServiceSelector,
    remoteDiscoverySelector,
    excludedLabels,
    excludedAnnotations,
    ignoredExclusions,
    mirrorHeadless: spec.mirrorHeadless === true,
    enableNamespaceCreation: spec.enableNamespaceCreation === true,
  };
  if (spec.gatewayIdentity) config.gatewayIdentity = spec.gatewayIdentity;
  return { ok: true, config };
}

export function splitAddresses(text: string | undefined): string[] {
  if (typeof text !== 'string') return [];
  return text
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
}

function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

function parseProbe(spec: NonNullable<Link['spec']['probeSpec']>): ProbeConfig | string {
  const probe = { ...PROBE_DEFAULTS };
  if (spec.path !== undefined) {
    if (!spec.path.startsWith('/')) return `probeSpec.path ${JSON.stringify(spec.path)} must start with /`;
    probe.path = spec.path;
  }
  if (spec.port !== undefined) {
    if (!isPort(spec.port)) return `probeSpec.port ${spec.port} is out of range`;
    probe.port = spec.port;
  }
  for (const field of ['period', 'timeout'] as const) {
    const text = spec[field];
    if (text === undefined) continue;
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) return `probeSpec.${field} ${JSON.stringify(text)} is not a duration`;
    probe[field === 'period' ? 'periodMs' : 'timeoutMs'] = ms;
  }
  if (spec.failureThreshold !== undefined) {
    if (!Number.isInteger(spec.failureThreshold) || spec.failureThreshold < 1) {
      return `probeSpec.failureThreshold ${spec.failureThreshold} must be a positive integer`;
    }
    probe.failureThreshold = spec.failureThreshold;
  }
  return probe;
}

/** Absent → the default; present but empty → null (select nothing), as Linkerd does. */
function parseSelector(
  field: string,
  selector: V1LabelSelector | undefined,
  fallback: V1LabelSelector | null,
): V1LabelSelector | null | string {
  if (selector === undefined) return fallback;
  const labels = selector.matchLabels ?? {};
  const exprs = selector.matchExpressions ?? [];
  if (Object.keys(labels).length === 0 && exprs.length === 0) return null;
  return labelSelectorProblem(field, selector) ?? selector;
}

/**
 * Excluded keys or `prefix/*` patterns, and why each bad entry is ignored. Ignored, not refused: an
 * entry such as a lone `*` always excluded nothing, and making the whole Link invalid for it would
 * freeze mirrors that worked (a Link applied by hand before this check); `isthmus check` warns.
 */
function keyPatterns(
  field: string,
  patterns: string[] | undefined,
  kind: 'label' | 'annotation',
  ignored: string[],
): string[] {
  return (patterns ?? []).filter((p, i) => {
    const problem = keyPatternProblem(p, kind);
    if (problem) ignored.push(`${field}[${i}]: ${problem}`);
    return !problem;
  });
}

/** The selector as the `labelSelector` query parameter of a list/watch. */
export function selectorToQuery(selector: V1LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

/** In-memory evaluation of the same selector, for objects already in a cache. */
export function selectorMatches(
  selector: V1LabelSelector | null,
  labels: Record<string, string> = {},
): boolean {
  if (selector === null) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const inValues = has && value !== undefined && (e.values ?? []).includes(value);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** Whether every Service the selector picks carries `key=value`. */
function selectorRequires(selector: V1LabelSelector, key: string, value: string): boolean {
  if (selector.matchLabels?.[key] === value) return true;
  return (selector.matchExpressions ?? []).some(
    (e) => e.key === key && e.operator === 'In' && e.values?.length === 1 && e.values[0] === value,
  );
}

/**
 * Whether a Link selector picks only exported Services: the remote gateway admits exported Services
 * (and federated members), whatever a Link selects, so a wider selector makes refused mirrors.
 */
function selectorRequiresExport(selector: V1LabelSelector): boolean {
  return selectorRequires(selector, EXPORTED_LABEL, 'true');
}

/**
 * The Link's selectors that pick Services its remote gateway would refuse: the gateway admits what
 * its own `--export-selector` and `--federated-selector` pick (by default the export label and the
 * federated-member label), never what a Link selects. Only Links through a gateway: without one,
 * mirrors point at the remote pods themselves.
 */
export function selectorsTheGatewayRefuses(
  config: Pick<LinkConfig, 'hasGateway' | 'selector' | 'federatedServiceSelector'>,
): Array<'selector' | 'federatedServiceSelector'> {
  if (!config.hasGateway) return [];
  const admitted = (s: V1LabelSelector): boolean =>
    selectorRequiresExport(s) || selectorRequires(s, FEDERATED_LABEL, FEDERATED_MEMBER);
  const fields: Array<'selector' | 'federatedServiceSelector'> = [];
  if (config.selector && !admitted(config.selector)) fields.push('selector');
  if (config.federatedServiceSelector && !admitted(config.federatedServiceSelector)) {
    fields.push('federatedServiceSelector');
  }
  return fields;
}

/** Why a selector `selectorsTheGatewayRefuses` names makes dead mirrors (after "<its name> "). */
export const GATEWAY_REFUSES_NOTE = `does not require ${EXPORTED_LABEL}=true or ${FEDERATED_LABEL}=${FEDERATED_MEMBER}: the remote gateway admits only Services with one of them (its --export-selector and --federated-selector), so a Service it picks without either is mirrored, but every connection to it is refused (403)`;
