/**
 * The flags of `isthmus install`, declared once for `install` and for `upgrade` (which takes the
 * same ones, each replacing what the install recorded), and the glue between commander's parsed
 * options and the flags an install records in the cluster (install-record.ts).
 */
import { Command, type Option } from 'commander';
import type { AdmissionPolicyFlags } from './admission-policy.js';
import type { GatewayDrainFlags } from './gateway-drain.js';
import type { GatewayExposureFlags } from './gateway-exposure.js';
import { FILE_FLAGS, type FlagKind, type FlagValue, type RecordedFlags } from './install-record.js';
import type { NetworkPolicyFlags } from './network-policy.js';
import { INSTALL_DEFAULTS } from './options.js';
import { DEFAULT_RESOURCES, resourcesFlagText } from './resources.js';
import type { SchedulingFlags } from './scheduling.js';

export interface InstallFlags
  extends AdmissionPolicyFlags,
    GatewayDrainFlags,
    GatewayExposureFlags,
    NetworkPolicyFlags,
    SchedulingFlags {
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
  /** false: --no-traffic-split-crd. */
  trafficSplitCrd?: boolean;
  /** Peer clusters the gateway admits besides its Links' targets, each maybe a comma list. */
  allowCluster?: string[];
  /** The gateway's `--dial-pod-ips-only`, and its right to read pods. */
  gatewayDialPodIpsOnly?: boolean;
}

/** A flag that may be given again and again, collected in order. */
export const repeatable = (value: string, previous: string[] = []) => [...previous, value];

const RESOURCES_HELP =
  'requests.cpu, requests.memory, limits.cpu, limits.memory, comma-separated, merged over the defaults; an empty value removes one (limits.memory=)';

/**
 * Declares every install flag on `cmd`. Install requires `--cluster-name`; upgrade reads it from
 * the record.
 */
export function addInstallFlags(cmd: Command, opts: { clusterNameRequired: boolean }): Command {
  const clusterName = [
    '--cluster-name <name>',
    "this cluster's name (what linked clusters call it)",
  ] as const;
  if (opts.clusterNameRequired) cmd.requiredOption(...clusterName);
  else cmd.option(...clusterName);
  return cmd
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
    .option(
      '--no-traffic-split-crd',
      "leave out the TrafficSplit CRD (trafficsplits.split.smi-spec.io), which another chart owns (Linkerd's SMI extension, linkerd-failover): uninstall then keeps it too",
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
      '--gateway-drain-delay <duration>',
      "on SIGTERM (rolling update, node drain) a gateway replica is unready but keeps serving this long, and longer while the mirrors' EndpointSlices still list it, while kube-proxy and load balancers catch up (default: 5s; e.g. 30s behind a cloud load balancer whose health checks take that long)",
    )
    .option(
      '--gateway-shutdown-grace <duration>',
      "from SIGTERM, how long a replica's open tunnels may run before they are cut; includes the drain delay, and sets the pod's terminationGracePeriodSeconds (5 s more) (default: 25s, or the drain delay + 20s)",
    )
    .option(
      '--gateway-min-ready-seconds <n>',
      "the gateway Deployment's minReadySeconds: a new replica counts as available (and a rollout goes on to stop an old one) only this long after it is ready, time for a load balancer to register it (default: 0)",
    )
    .option(
      '--allow-cluster <names>',
      "peer clusters whose gateways may open tunnels here besides those this cluster has a Link to (the gateway's --allow-cluster), comma-separated, repeatable: an exporting cluster must admit each cluster that consumes its services",
      repeatable,
    )
    .option(
      '--gateway-dial-pod-ips-only',
      "the gateway dials only endpoints that are the IP of a running Pod in the exported Service's namespace, so whoever writes EndpointSlices there cannot point it elsewhere (CVE-2021-25740); grants it get, list and watch on pods cluster-wide",
    )
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
      '--admission-policy',
      "also a ValidatingAdmissionPolicy (Kubernetes 1.30+) that lets only isthmus-controller create, change or delete the EndpointSlices the gateway trusts as its controllers' (managed-by mirror, failover or federation.isthmus.dev); the garbage collector and namespace controller may still delete them",
    )
    .option(
      '--network-policy',
      'also an ingress NetworkPolicy per component, for a CNI that enforces them: the admin port only from the controller and what the --admin-allow-* flags name',
    )
    .option(
      '--admin-allow-namespace <namespace>',
      "a namespace whose pods may reach the admin ports, :4191 and identity's :9991 (your Prometheus's), repeatable",
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
    );
}

/** Long name without dashes (`no-gateway` for a negated switch). */
const nameOf = (o: Option) => (o.long ?? '').replace(/^--/, '');

function kindOf(o: Option): FlagKind {
  if (!o.required && !o.optional) return 'switch';
  return o.parseArg === repeatable ? 'repeatable' : 'value';
}

/** Every install flag and its kind, from the declarations themselves. */
export const INSTALL_FLAG_KINDS: ReadonlyMap<string, FlagKind> = new Map(
  addInstallFlags(new Command(), { clusterNameRequired: false }).options.map((o) => [nameOf(o), kindOf(o)]),
);

/** The install flags given on `cmd`'s command line, as recorded (file flags left out). */
export function givenInstallFlags(cmd: Command): RecordedFlags {
  const given: Record<string, FlagValue> = {};
  for (const o of cmd.options) {
    const name = nameOf(o);
    const key = o.attributeName();
    if (!INSTALL_FLAG_KINDS.has(name) || FILE_FLAGS.includes(name)) continue;
    if (cmd.getOptionValueSource(key) !== 'cli') continue;
    const value = cmd.getOptionValue(key) as FlagValue | boolean;
    // A negated switch (--no-gateway) is recorded as given: true, not as its attribute's false.
    given[name] = typeof value === 'boolean' ? true : value;
  }
  return given;
}

/** Recorded flags as the attributes commander would have parsed them into. */
export function installFlagsOf(cmd: Command, recorded: RecordedFlags): Partial<InstallFlags> {
  const flags: Record<string, unknown> = {};
  for (const o of cmd.options) {
    const value = recorded[nameOf(o)];
    if (value === undefined) continue;
    flags[o.attributeName()] = o.negate ? false : value;
  }
  return flags as Partial<InstallFlags>;
}
