import type { Command } from 'commander';
import { IsthmusError } from '../../errors.js';
import { isValidTrustDomain } from '../../identity/spiffe.js';
import { PORTS } from '../../kube/keys.js';
import { isDNS1123Subdomain, isValidLabelValue } from '../../sandbox/validation-strings.js';
import { type GatewayExposureFlags, gatewayExposureFromFlags } from '../install/gateway-exposure.js';
import { type NetworkPolicyFlags, networkPolicyFromFlags } from '../install/network-policy.js';
import { INSTALL_DEFAULTS, type InstallOptions } from '../install/options.js';
import { componentResources, DEFAULT_RESOURCES, resourcesFlagText } from '../install/resources.js';
import { type SchedulingFlags, schedulingFromFlags } from '../install/scheduling.js';

export interface InstallFlags extends GatewayExposureFlags, NetworkPolicyFlags, SchedulingFlags {
  clusterName: string;
  /** false: --no-gateway. */
  gateway?: boolean;
  /** Required unless --no-gateway. */
  trustAnchor?: string;
  issuerCert?: string;
  issuerKey?: string;
  externalIssuer?: boolean;
  trustDomain: string;
  clusterDomain: string;
  image: string;
  imagePullPolicy: string;
  /** Absent: 1, or 2 with --ha. */
  gatewayReplicas?: string;
  controllerReplicas: string;
  ha?: boolean;
  /** Absent: LoadBalancer. */
  gatewayServiceType?: string;
  failoverControlledBy: string;
  /** Absent: 20000-29999. */
  egressPortRange?: string;
  enableNamespaceCreation?: boolean;
  /** `requests.cpu=200m,limits.memory=1Gi`, merged over each component's defaults. */
  gatewayResources?: string;
  controllerResources?: string;
  identityResources?: string;
}

/** A flag that may be given again and again, collected in order. */
const repeatable = (value: string, previous: string[] = []) => [...previous, value];

const RESOURCES_HELP =
  'requests.cpu, requests.memory, limits.cpu, limits.memory, comma-separated, merged over the defaults; an empty value removes one (limits.memory=)';

export function registerInstall(program: Command): void {
  program
    .command('install')
    .description('Print every manifest for one cluster: isthmus install ... | kubectl apply -f -')
    .requiredOption('--cluster-name <name>', "this cluster's name (what linked clusters call it)")
    .option(
      '--trust-anchor <file>',
      'the shared trust anchor certificate (ca.crt); required unless --no-gateway',
    )
    .option('--issuer-cert <file>', "this cluster's issuer certificate (required unless --external-issuer)")
    .option('--issuer-key <file>', "this cluster's issuer key (required unless --external-issuer)")
    .option(
      '--external-issuer',
      'the isthmus-issuer Secret (kubernetes.io/tls) is managed outside, e.g. by cert-manager: render none',
    )
    .option(
      '--no-gateway',
      "no gateway and no identity service, for a flat pod network (Linkerd's --gateway=false): every Link of this cluster and to it is made with isthmus link --no-gateway; takes no certificates",
    )
    .option('--trust-domain <domain>', 'SPIFFE trust domain', INSTALL_DEFAULTS.trustDomain)
    .option('--cluster-domain <domain>', 'cluster DNS domain', INSTALL_DEFAULTS.clusterDomain)
    .option('--image <ref>', 'container image of isthmus', INSTALL_DEFAULTS.image)
    .option('--image-pull-policy <policy>', 'Always, IfNotPresent or Never', INSTALL_DEFAULTS.imagePullPolicy)
    .option(
      '--gateway-replicas <n>',
      `gateway replicas (default: ${INSTALL_DEFAULTS.gatewayReplicas}, or 2 with --ha)`,
    )
    .option(
      '--ha',
      'high availability, as linkerd install --ha: at least 2 replicas of the gateway, the controller and identity, spread across nodes, each under a PodDisruptionBudget',
    )
    .option(
      '--controller-replicas <n>',
      'controller replicas (leader-elected)',
      String(INSTALL_DEFAULTS.controllerReplicas),
    )
    .option(
      '--gateway-service-type <type>',
      `LoadBalancer, NodePort, or ClusterIP (not reachable from other clusters: for clusters linked to this one with --no-gateway only) (default: "${INSTALL_DEFAULTS.gatewayServiceType}")`,
    )
    .option(
      '--gateway-service-annotation <key=value>',
      'annotation of the gateway Service, repeatable (e.g. service.beta.kubernetes.io/aws-load-balancer-type=nlb)',
      repeatable,
    )
    .option(
      '--gateway-load-balancer-source-ranges <cidrs>',
      "networks allowed to reach the gateway's load balancer, comma-separated (the peer clusters' egress)",
    )
    .option('--gateway-load-balancer-class <class>', "the gateway Service's loadBalancerClass")
    .option(
      '--gateway-external-traffic-policy <policy>',
      'Cluster or Local (Local keeps the client address and skips the extra node hop)',
    )
    .option('--gateway-node-port <port>', "the ingress port's nodePort (NodePort or LoadBalancer)")
    .option(
      '--failover-controlled-by <value>',
      'failover.linkerd.io/controlled-by value',
      INSTALL_DEFAULTS.failoverControlledBy,
    )
    .option(
      '--egress-port-range <first-last>',
      `egress listener ports (default: "${INSTALL_DEFAULTS.egressPortRange.first}-${INSTALL_DEFAULTS.egressPortRange.last}")`,
    )
    .option(
      '--enable-namespace-creation',
      "let the controller create a mirror's missing namespace, for Links with enableNamespaceCreation (grants create namespaces)",
    )
    .option(
      '--node-selector <key=value>',
      'node label every Isthmus pod must match, repeatable (kubernetes.io/os=linux is always set)',
      repeatable,
    )
    .option(
      '--gateway-node-selector <key=value>',
      'node label the gateway pods must match too, repeatable (e.g. dedicated edge nodes)',
      repeatable,
    )
    .option(
      '--toleration <key[=value]:effect>',
      "taint every Isthmus pod tolerates, in kubectl taint's form, repeatable; an empty effect tolerates all",
      repeatable,
    )
    .option(
      '--gateway-toleration <key[=value]:effect>',
      'taint the gateway pods tolerate too, repeatable (e.g. dedicated=edge:NoSchedule)',
      repeatable,
    )
    .option('--priority-class-name <name>', 'PriorityClass of every Isthmus pod')
    .option(
      '--image-pull-secret <name>',
      'Secret in isthmus-system to pull the image with (a private registry), repeatable',
      repeatable,
    )
    .option(
      '--gateway-resources <list>',
      `the gateway container's resources: ${RESOURCES_HELP} (default: ${resourcesFlagText(DEFAULT_RESOURCES.gateway)})`,
    )
    .option(
      '--controller-resources <list>',
      `the controller container's resources, as --gateway-resources (default: ${resourcesFlagText(DEFAULT_RESOURCES.controller)})`,
    )
    .option(
      '--identity-resources <list>',
      `the identity container's resources, as --gateway-resources (default: ${resourcesFlagText(DEFAULT_RESOURCES.identity)})`,
    )
    .option(
      '--network-policy',
      'also an ingress NetworkPolicy per component, for a CNI that enforces them: the admin port only from the controller and what the --admin-allow-* flags name',
    )
    .option(
      '--admin-allow-namespace <namespace>',
      "a namespace whose pods may reach the admin port :4191 (your Prometheus's), repeatable",
      repeatable,
    )
    .option(
      '--admin-allow-cidr <cidr>',
      "addresses that may reach the admin port, repeatable: the API server's, whose pod proxy isthmus check, routes and gateways go through",
      repeatable,
    )
    .option(
      '--egress-allow-cidr <cidr>',
      'host-network callers of mirrors (their nodes), repeatable: pods of every namespace are let in already',
      repeatable,
    )
    .action(async (flags: InstallFlags) => {
      const { loadAnchorBundle, loadIssuer } = await import('../../identity/files.js');
      const { renderInstall } = await import('../install/render.js');
      const { networkPolicyNotes } = await import('../install/network-policy.js');
      const print = (opts: InstallOptions) => {
        for (const note of opts.networkPolicy ? networkPolicyNotes(opts.networkPolicy) : [])
          process.stderr.write(`note: ${note}\n`);
        process.stdout.write(renderInstall(opts));
      };
      if (flags.gateway === false) {
        print(installOptionsFromFlags(flags, undefined, undefined));
        return;
      }
      if (!flags.trustAnchor) {
        throw new IsthmusError(
          'USAGE',
          '--trust-anchor is required (the shared ca.crt of `isthmus certs`), unless --no-gateway',
          { terminal: true },
        );
      }
      const files = issuerFiles(flags);
      const { anchorPem, issuer } = files
        ? await loadIssuer({
            anchorFile: flags.trustAnchor,
            ...files,
            scope: { cluster: flags.clusterName, trustDomain: flags.trustDomain },
          })
        : { anchorPem: await loadAnchorBundle(flags.trustAnchor), issuer: undefined };
      print(installOptionsFromFlags(flags, anchorPem, issuer));
    });
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
const GATEWAY_FLAGS: [keyof InstallFlags, string][] = [
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
];

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
    if (!Number.isInteger(n) || n < min || n > max)
      problems.push(`--${name} must be an integer from ${min} to ${max}`);
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
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(flags.clusterName)) {
    problems.push(`--cluster-name "${flags.clusterName}" is not a DNS-1123 label`);
  }
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
    ...withNetworkPolicy(networkPolicyFromFlags(flags, problems)),
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
