/**
 * The Link settings `isthmus link` takes as flags (the ones `linkerd multicluster link` users set:
 * which Services to mirror, what not to copy, headless mirroring, the gateway probe), turned into
 * Link spec fields. Pure, and strict: a flag the controller would reject is refused here with the
 * reason, before anything is printed for `kubectl apply`.
 */
import { IsthmusError } from '../../errors.js';
import { isValidClusterName, isValidTrustDomain } from '../../identity/spiffe.js';
import type { Link, V1LabelSelector } from '../../kube/types.js';
import { parseLabelSelector, SelectorError } from '../../kube/validation/selectors.js';
import { GATEWAY_REFUSES_NOTE, parseDuration, selectorsTheGatewayRefuses } from '../../mirror/link-config.js';
import {
  gatewayAddressProblem,
  keyPatternProblem,
  labelSelectorProblem,
} from '../../mirror/link-validation.js';
import { parseHttpUrlFlag } from '../common-flags.js';

export interface LinkFlagValues {
  /** false: `--no-gateway`, a Link for a flat pod network (remote-discovery Services and federated members). */
  gateway?: boolean;
  gatewayAddresses?: string;
  selector?: string;
  federatedServiceSelector?: string;
  remoteDiscoverySelector?: string;
  gatewayPort?: string;
  excludedLabels?: string;
  excludedAnnotations?: string;
  mirrorHeadless?: boolean;
  enableNamespaceCreation?: boolean;
  probePeriod?: string;
  probeTimeout?: string;
  probeFailureThreshold?: string;
}

/** The optional part of a Link spec that flags control; fields left out keep the CRD defaults. */
export type LinkSpecOptions = Partial<
  Pick<
    Link['spec'],
    | 'selector'
    | 'federatedServiceSelector'
    | 'remoteDiscoverySelector'
    | 'gatewayPort'
    | 'excludedLabels'
    | 'excludedAnnotations'
    | 'mirrorHeadless'
    | 'enableNamespaceCreation'
  >
> & { probe?: { period?: string; timeout?: string; failureThreshold?: number } };

function usage(message: string): IsthmusError {
  return new IsthmusError('USAGE', message, { terminal: true });
}

/**
 * A selector in the syntax of `kubectl -l` as a metav1.LabelSelector, like apimachinery's
 * ParseToLabelSelector (which `linkerd multicluster link --selector` uses). `a!=b` becomes
 * `NotIn [b]`, which selects the same Services; `>`/`<` have no LabelSelector form.
 */
export function labelSelectorFromString(text: string, flag = '--selector'): V1LabelSelector {
  if (text.trim() === '') {
    throw usage(`${flag} is empty: a Link with an empty selector mirrors nothing (use isthmus unlink)`);
  }
  let reqs: ReturnType<typeof parseLabelSelector>;
  try {
    reqs = parseLabelSelector(text);
  } catch (err) {
    if (err instanceof SelectorError) throw usage(`${flag} ${JSON.stringify(text)}: ${err.message}`);
    throw err;
  }
  const matchLabels: Record<string, string> = {};
  const matchExpressions: NonNullable<V1LabelSelector['matchExpressions']> = [];
  for (const { key, operator, values } of reqs) {
    switch (operator) {
      case 'Equals': {
        const previous = matchLabels[key];
        if (previous !== undefined && previous !== values[0]) {
          throw usage(
            `${flag} ${JSON.stringify(text)}: ${key} cannot equal both ${previous} and ${values[0]}`,
          );
        }
        matchLabels[key] = values[0]!;
        break;
      }
      case 'NotEquals':
        matchExpressions.push({ key, operator: 'NotIn', values });
        break;
      case 'In':
      case 'NotIn':
        matchExpressions.push({ key, operator, values });
        break;
      case 'Exists':
      case 'DoesNotExist':
        matchExpressions.push({ key, operator });
        break;
      default:
        throw usage(
          `${flag} ${JSON.stringify(text)}: ${key} ${operator === 'GreaterThan' ? '>' : '<'} … is not supported in a Link's label selector`,
        );
    }
  }
  const selector: V1LabelSelector = {
    ...(Object.keys(matchLabels).length > 0 ? { matchLabels } : {}),
    ...(matchExpressions.length > 0 ? { matchExpressions } : {}),
  };
  // The controller's own check of the result, so the two cannot drift.
  const problem = labelSelectorProblem('selector', selector);
  if (problem) throw usage(`${flag} ${JSON.stringify(text)}: ${problem}`);
  return selector;
}

/** A comma-separated list of keys or `prefix/*` wildcards, as `excludedLabels`/`excludedAnnotations` take them. */
export function keyPatternList(flag: string, text: string): string[] {
  const items = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const kind = flag === '--excluded-annotations' ? 'annotation' : 'label';
  for (const p of items) {
    const problem = keyPatternProblem(p, kind);
    if (problem) throw usage(`${flag}: ${problem}`);
  }
  return items;
}

function duration(flag: string, text: string): string {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0)
    throw usage(`${flag} ${JSON.stringify(text)}: expected a duration such as 3s or 500ms`);
  return text;
}

function positiveInteger(flag: string, text: string, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max)
    throw usage(`${flag} ${JSON.stringify(text)}: expected an integer from 1 to ${max}`);
  return n;
}

/** A selector flag where "" means `{}` (select none); undefined when the flag was not given. */
function optionalSelector(text: string | undefined, flag: string): V1LabelSelector | undefined {
  if (text === undefined) return undefined;
  return text.trim() === '' ? {} : labelSelectorFromString(text, flag);
}

/** TokenRequest's bounds (kube-apiserver's validation): 10 minutes to 2^32 seconds. */
const MIN_TOKEN_SECONDS = 600;
const MAX_TOKEN_SECONDS = 2 ** 32;

/**
 * `--token-duration`: the lifetime of the bound token the Link's credentials carry, in whole
 * seconds as TokenRequest takes it, within the bounds kube-apiserver accepts (so the remote never
 * answers 422 after the local part was printed).
 */
export function tokenDurationFlag(text: string): number {
  const ms = parseDuration(text);
  const seconds = ms === undefined ? Number.NaN : Math.floor(ms / 1000);
  if (!(seconds >= MIN_TOKEN_SECONDS && seconds <= MAX_TOKEN_SECONDS)) {
    throw usage(
      `--token-duration ${JSON.stringify(text)}: expected a duration from 10m to ${MAX_TOKEN_SECONDS}s, such as 2160h (90 days)`,
    );
  }
  return seconds;
}

/**
 * `--cluster-name`: one DNS label. It names the Link, its Secret and every mirror (`<svc>-<name>`),
 * so a list or a typo is refused rather than cut down to something else.
 */
export function clusterNameFlag(text: string): string {
  if (!isValidClusterName(text)) {
    throw usage(
      `--cluster-name ${JSON.stringify(text)}: expected one cluster name, a DNS label (lower-case letters, digits and '-', at most 63)`,
    );
  }
  return text;
}

/** `--trust-domain`: the gateway identity `spiffe://<domain>/...` is only ever issued in a valid one. */
export function trustDomainFlag(text: string): string {
  if (!isValidTrustDomain(text)) {
    throw usage(
      `--trust-domain ${JSON.stringify(text)}: not a SPIFFE trust domain (lower-case letters, digits, '.', '-' and '_')`,
    );
  }
  return text;
}

/**
 * `--api-server-address`: the server of the credentials' kubeconfig, which the controller loads
 * only as an http(s) URL (src/kube/kubeconfig.ts); `host:port` alone would make them unusable.
 */
export function apiServerAddressFlag(text: string): string {
  parseHttpUrlFlag(text, '--api-server-address', 'https://203.0.113.10:6443');
  return text;
}

/**
 * `--gateway-addresses`: IPs or DNS names, as a LoadBalancer's status lists them. The port is the
 * Link's `gatewayPort` (`--gateway-port`): an address with a port or in brackets would be dialled
 * as `<address>:<port>` and never answer.
 */
export function gatewayAddressList(text: string): string[] {
  const addresses = text
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (addresses.length === 0) throw usage('--gateway-addresses lists no address');
  for (const a of addresses) {
    const problem = gatewayAddressProblem(a, 'with --gateway-port');
    if (problem) throw usage(`--gateway-addresses: ${problem}`);
  }
  return addresses;
}

/** Flags that set up what a Link without a gateway does not have: the tunnel, its probe, its exports. */
const GATEWAY_FLAGS: [keyof LinkFlagValues, string][] = [
  ['gatewayAddresses', '--gateway-addresses'],
  ['gatewayPort', '--gateway-port'],
  ['selector', '--selector'],
  ['probePeriod', '--probe-period'],
  ['probeTimeout', '--probe-timeout'],
  ['probeFailureThreshold', '--probe-failure-threshold'],
];

/** Flag values → Link spec fields; only what was given. */
export function linkSpecOptions(flags: LinkFlagValues): LinkSpecOptions {
  if (flags.gateway === false) {
    const given = GATEWAY_FLAGS.filter(([key]) => flags[key] !== undefined).map(([, flag]) => flag);
    if (given.length > 0) {
      throw usage(
        `--no-gateway cannot be combined with ${given.join(', ')}: a Link without a gateway mirrors remote-discovery Services and federated members only, and probes nothing`,
      );
    }
  }
  // Checked here with the other flags, before the remote cluster is read.
  if (flags.gatewayAddresses !== undefined) gatewayAddressList(flags.gatewayAddresses);
  const out: LinkSpecOptions = {};
  if (flags.selector !== undefined) out.selector = labelSelectorFromString(flags.selector);
  // Empty is meaningful for these two (none, the Link's `{}`), unlike an empty --selector.
  const federated = optionalSelector(flags.federatedServiceSelector, '--federated-service-selector');
  if (federated) out.federatedServiceSelector = federated;
  const discovery = optionalSelector(flags.remoteDiscoverySelector, '--remote-discovery-selector');
  if (discovery) out.remoteDiscoverySelector = discovery;
  if (flags.gatewayPort !== undefined)
    out.gatewayPort = positiveInteger('--gateway-port', flags.gatewayPort, 65535);
  if (flags.excludedLabels !== undefined)
    out.excludedLabels = keyPatternList('--excluded-labels', flags.excludedLabels);
  if (flags.excludedAnnotations !== undefined) {
    out.excludedAnnotations = keyPatternList('--excluded-annotations', flags.excludedAnnotations);
  }
  if (flags.mirrorHeadless) out.mirrorHeadless = true;
  if (flags.enableNamespaceCreation) out.enableNamespaceCreation = true;
  const probe: NonNullable<LinkSpecOptions['probe']> = {};
  if (flags.probePeriod !== undefined) probe.period = duration('--probe-period', flags.probePeriod);
  if (flags.probeTimeout !== undefined) probe.timeout = duration('--probe-timeout', flags.probeTimeout);
  if (flags.probeFailureThreshold !== undefined) {
    probe.failureThreshold = positiveInteger('--probe-failure-threshold', flags.probeFailureThreshold, 1000);
  }
  if (Object.keys(probe).length > 0) out.probe = probe;
  return out;
}

/**
 * What the remote gateway admits is its own `--export-selector` and `--federated-selector` (by
 * default the export and federated-member labels), not the Link's selectors. A selector that
 * requires neither picks Services that are mirrored but refused (403) on every connection: said
 * once, at the moment the mistake is made (`isthmus check` says it again).
 */
export function linkSpecWarnings(options: LinkSpecOptions, gateway = true): string[] {
  const federated = options.federatedServiceSelector;
  const none = (s: V1LabelSelector): boolean =>
    Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0;
  const fields = selectorsTheGatewayRefuses({
    hasGateway: gateway,
    selector: options.selector ?? null,
    federatedServiceSelector: federated && !none(federated) ? federated : null,
  });
  const flag = { selector: '--selector', federatedServiceSelector: '--federated-service-selector' };
  return fields.map((field) => `${flag[field]} ${GATEWAY_REFUSES_NOTE}`);
}
