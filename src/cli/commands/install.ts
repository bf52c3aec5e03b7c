import type { Command } from 'commander';
import { IsthmusError } from '../../errors.js';
import { isValidClusterName, isValidTrustDomain } from '../../identity/spiffe.js';
import { PORTS } from '../../kube/keys.js';
import { isDNS1123Subdomain, isValidLabelValue } from '../../kube/validation/strings.js';
import { GATEWAY_DRAIN_FLAGS, gatewayDrainFromFlags } from '../install/gateway-drain.js';
import { gatewayExposureFromFlags } from '../install/gateway-exposure.js';
import { addInstallFlags, givenInstallFlags, type InstallFlags } from '../install/install-flags.js';
import { networkPolicyFromFlags } from '../install/network-policy.js';
import { INSTALL_DEFAULTS, type InstallOptions } from '../install/options.js';
import { componentResources } from '../install/resources.js';
import { schedulingFromFlags } from '../install/scheduling.js';

export type { InstallFlags };

export function registerInstall(program: Command): void {
  addInstallFlags(
    program
      .command('install')
      .description('Print every manifest for one cluster: isthmus install ... | kubectl apply -f -'),
    { clusterNameRequired: true },
  ).action(async (flags: InstallFlags, cmd: Command) => {
    const { printInstall } = await import('../install/print-install.js');
    const { anchorPem, issuer } = await certificatesFromFiles(flags);
    printInstall({
      ...installOptionsFromFlags(flags, anchorPem, issuer),
      recordedFlags: givenInstallFlags(cmd),
    });
  });
}

/** The anchor and issuer install renders from: none with --no-gateway, else from the files given. */
async function certificatesFromFiles(
  flags: InstallFlags,
): Promise<{ anchorPem?: string; issuer?: { certPem: string; keyPem: string } }> {
  if (flags.gateway === false) return {};
  // Before the certificates: a bad name would otherwise be reported as the issuer's fault.
  const nameProblem = clusterNameProblem(flags.clusterName);
  if (nameProblem) throw new IsthmusError('USAGE', nameProblem, { terminal: true });
  const { loadAnchorBundle, loadIssuer } = await import('../../identity/files.js');
  if (!flags.trustAnchor) {
    throw new IsthmusError(
      'USAGE',
      '--trust-anchor is required (the shared ca.crt of `isthmus certs`), unless --no-gateway',
      { terminal: true },
    );
  }
  const files = issuerFiles(flags);
  const certificates = files
    ? await loadIssuer({
        anchorFile: flags.trustAnchor,
        ...files,
        scope: { cluster: flags.clusterName, trustDomain: flags.trustDomain },
      })
    : { anchorPem: await loadAnchorBundle(flags.trustAnchor) };
  // An expired extra anchor (step 3 of a rotation late) is installed, but said (validate.ts).
  const { anchorBundleWarnings } = await import('../../identity/validate.js');
  for (const w of anchorBundleWarnings(certificates.anchorPem, new Date()))
    process.stderr.write(`warning: ${flags.trustAnchor}: ${w}\n`);
  return certificates;
}

function clusterNameProblem(name: string): string | undefined {
  return /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)
    ? undefined
    : `--cluster-name "${name}" is not a DNS-1123 label`;
}

/** The issuer's files, or undefined with --external-issuer; a usage error for any other mix. */
export function issuerFiles(flags: InstallFlags): { certFile: string; keyFile: string } | undefined {
  if (flags.externalIssuer) {
    if (flags.issuerCert || flags.issuerKey) {
      throw new IsthmusError('USAGE', '--external-issuer takes no --issuer-cert or --issuer-key', {
        terminal: true,
      });
    }
    return undefined;
  }
  if (!flags.issuerCert || !flags.issuerKey) {
    throw new IsthmusError(
      'USAGE',
      '--issuer-cert and --issuer-key are required, or --external-issuer when the isthmus-issuer Secret is managed elsewhere',
      { terminal: true },
    );
  }
  return { certFile: flags.issuerCert, keyFile: flags.issuerKey };
}

/** What `--no-gateway` has no use for: certificates and everything about the gateway. */
const GATEWAY_FLAGS: ReadonlyArray<readonly [keyof InstallFlags, string]> = [
  ['trustAnchor', '--trust-anchor'],
  ['issuerCert', '--issuer-cert'],
  ['issuerKey', '--issuer-key'],
  ['externalIssuer', '--external-issuer'],
  ['gatewayReplicas', '--gateway-replicas'],
  ['gatewayServiceType', '--gateway-service-type'],
  ['gatewayServiceAnnotation', '--gateway-service-annotation'],
  ['gatewayLoadBalancerSourceRanges', '--gateway-load-balancer-source-ranges'],
  ['gatewayLoadBalancerClass', '--gateway-load-balancer-class'],
  ['gatewayExternalTrafficPolicy', '--gateway-external-traffic-policy'],
  ['gatewayNodePort', '--gateway-node-port'],
  ['egressPortRange', '--egress-port-range'],
  ['gatewayNodeSelector', '--gateway-node-selector'],
  ['gatewayToleration', '--gateway-toleration'],
  ['gatewayResources', '--gateway-resources'],
  ['identityResources', '--identity-resources'],
  ['egressAllowCidr', '--egress-allow-cidr'],
  ['allowCluster', '--allow-cluster'],
  ['gatewayDialPodIpsOnly', '--gateway-dial-pod-ips-only'],
  ...GATEWAY_DRAIN_FLAGS,
];

/**
 * `--allow-cluster a,b --allow-cluster c` → [a, b, c], each held to what `isthmus link` takes as a
 * cluster name (the gateway refuses to start on anything else).
 */
function allowClustersFromFlags(values: readonly string[] | undefined, problems: string[]): string[] {
  const names = (values ?? []).flatMap((v) => v.split(',')).map((n) => n.trim());
  for (const name of names) {
    if (!isValidClusterName(name)) {
      problems.push(
        `--allow-cluster ${JSON.stringify(name)}: expected a cluster name, a DNS label (lower-case letters, digits and '-', at most 63)`,
      );
    }
  }
  return [...new Set(names)];
}

/**
 * Flags → options. `trustAnchorPem` is undefined only with --no-gateway, which refuses every flag
 * about certificates or the gateway: a flag that would silently do nothing is a mistake.
 */
export function installOptionsFromFlags(
  flags: InstallFlags,
  trustAnchorPem: string | undefined,
  issuer: { certPem: string; keyPem: string } | undefined,
): InstallOptions {
  const problems: string[] = [];
  const gateway = flags.gateway !== false;
  if (!gateway) {
    const given = GATEWAY_FLAGS.filter(([key]) => flags[key] !== undefined).map(([, flag]) => flag);
    if (given.length > 0) {
      problems.push(
        `--no-gateway installs no gateway and no identity service, so it takes no ${given.join(', ')}`,
      );
    }
  }
  const serviceType = flags.gatewayServiceType ?? INSTALL_DEFAULTS.gatewayServiceType;
  const portRange =
    flags.egressPortRange ??
    `${INSTALL_DEFAULTS.egressPortRange.first}-${INSTALL_DEFAULTS.egressPortRange.last}`;
  const int = (name: string, text: string, min: number, max: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) {
      const why = flags.ha && n < min ? ', as --ha runs at least 2' : '';
      problems.push(`--${name} must be an integer from ${min} to ${max}${why}, got "${text}"`);
    }
    return n;
  };
  const range = /^(\d+)-(\d+)$/.exec(portRange);
  const first = range ? Number(range[1]) : Number.NaN;
  const last = range ? Number(range[2]) : Number.NaN;
  if (!range || first < 1024 || last > 65535 || first > last) {
    problems.push('--egress-port-range must be FIRST-LAST within 1024-65535');
  } else {
    const own = [PORTS.ingress, PORTS.admin].filter((p) => p >= first && p <= last);
    if (own.length > 0)
      problems.push(`--egress-port-range ${portRange} includes the gateway's own port ${own.join(' and ')}`);
  }
  const oneOf = <T extends string>(name: string, value: string, allowed: readonly T[]): T => {
    if (!allowed.includes(value as T)) problems.push(`--${name} must be one of ${allowed.join(', ')}`);
    return value as T;
  };
  const nameProblem = clusterNameProblem(flags.clusterName);
  if (nameProblem) problems.push(nameProblem);
  // Each would start a part that cannot work: identity refuses to sign in an invalid trust domain
  // (it exits at start-up), the gateway and the controller build DNS names in the cluster domain,
  // and the failover controller compares the label value, which no TrafficSplit can carry.
  if (!isValidTrustDomain(flags.trustDomain)) {
    problems.push(
      `--trust-domain "${flags.trustDomain}" is not a SPIFFE trust domain (lower-case letters, digits, '.', '-' and '_')`,
    );
  }
  const domainErrors = isDNS1123Subdomain(flags.clusterDomain);
  if (domainErrors.length > 0) {
    problems.push(`--cluster-domain "${flags.clusterDomain}" is not a DNS name: ${domainErrors[0]}`);
  }
  const labelErrors = isValidLabelValue(flags.failoverControlledBy);
  if (labelErrors.length > 0) {
    problems.push(
      `--failover-controlled-by "${flags.failoverControlledBy}" is not a label value: ${labelErrors[0]}`,
    );
  }
  const opts: InstallOptions = {
    clusterName: flags.clusterName,
    trustDomain: flags.trustDomain,
    clusterDomain: flags.clusterDomain,
    namespace: INSTALL_DEFAULTS.namespace,
    image: flags.image,
    imagePullPolicy: oneOf('image-pull-policy', flags.imagePullPolicy, ['Always', 'IfNotPresent', 'Never']),
    gateway,
    ...(trustAnchorPem !== undefined && gateway ? { trustAnchorPem } : {}),
    ...(issuer ? { issuerCertPem: issuer.certPem, issuerKeyPem: issuer.keyPem } : {}),
    gatewayReplicas: int(
      'gateway-replicas',
      flags.gatewayReplicas ?? String(flags.ha ? 2 : INSTALL_DEFAULTS.gatewayReplicas),
      flags.ha ? 2 : 1,
      100,
    ),
    controllerReplicas: int('controller-replicas', flags.controllerReplicas, flags.ha ? 2 : 1, 10),
    identityReplicas: flags.ha ? 2 : INSTALL_DEFAULTS.identityReplicas,
    failoverControlledBy: flags.failoverControlledBy,
    egressPortRange: { first, last },
    gatewayServiceType: oneOf('gateway-service-type', serviceType, ['LoadBalancer', 'NodePort', 'ClusterIP']),
    gatewayExposure: gatewayExposureFromFlags(flags, serviceType, problems),
    enableNamespaceCreation: flags.enableNamespaceCreation === true,
    allowClusters: allowClustersFromFlags(flags.allowCluster, problems),
    gatewayDialPodIPsOnly: flags.gatewayDialPodIpsOnly === true,
    gatewayDrain: gatewayDrainFromFlags(flags, problems),
    trafficSplitCrd: flags.trafficSplitCrd !== false,
    ...withNetworkPolicy(networkPolicyFromFlags(flags, problems)),
    ...(flags.admissionPolicy ? { admissionPolicy: true } : {}),
    scheduling: schedulingFromFlags(flags, problems),
    resources: {
      gateway: componentResources('gateway', flags.gatewayResources, problems),
      controller: componentResources('controller', flags.controllerResources, problems),
      identity: componentResources('identity', flags.identityResources, problems),
    },
  };
  if (problems.length > 0) throw new IsthmusError('USAGE', problems.join('; '), { terminal: true });
  return opts;
}

const withNetworkPolicy = (p: InstallOptions['networkPolicy']) => (p ? { networkPolicy: p } : {});
