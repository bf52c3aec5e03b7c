/**
 * `isthmus install --network-policy`: an ingress NetworkPolicy per component, for clusters whose
 * CNI enforces them. The admin port (:4191: /metrics, /routes, /probe) has no authentication of
 * its own, as Linkerd's proxy admin port has none; these policies are what keeps it to the
 * controller, the Prometheus namespaces and the API server's pod proxy the user names (identity's
 * admin port, :9991, /metrics only, to the same namespaces and addresses: no pod of ours reads it). What must
 * stay open is open: the mTLS port to everyone (certificates decide), the egress range to every
 * pod of the cluster (kube-proxy sends mirror traffic there), Certify (TLS) to the gateways only,
 * and identity's plaintext health port to any caller, since the kubelet probes it from the node,
 * whose address no policy here can name, and it answers SERVING and nothing more. Other kubelet
 * probes come from the pod's own node too, which Calico, Cilium and the others let through
 * whatever a policy says. Pure: flags in, objects out; examples/network-policy shows the result.
 */

import { PORTS } from '../../kube/keys.js';
import { isValidCIDR } from '../../kube/validation/service.js';
import { isDNS1123Label } from '../../kube/validation/strings.js';
import { type InstallOptions, PART_OF } from './options.js';

export interface NetworkPolicyOptions {
  /** Namespaces (Prometheus) whose pods may scrape the admin port. */
  adminNamespaces: readonly string[];
  /** Addresses that may reach the admin port: the API server's, for its pod proxy. */
  adminCidrs: readonly string[];
  /** Host-network callers of mirrors (their node addresses), which no namespace selector matches. */
  egressCidrs: readonly string[];
}

export interface NetworkPolicyFlags {
  networkPolicy?: boolean;
  adminAllowNamespace?: string[];
  adminAllowCidr?: string[];
  egressAllowCidr?: string[];
}

/** Flags → options (undefined: no policies); each problem pushed with its flag's name. */
export function networkPolicyFromFlags(
  flags: NetworkPolicyFlags,
  problems: string[],
): NetworkPolicyOptions | undefined {
  const lists: [string, string[] | undefined][] = [
    ['--admin-allow-namespace', flags.adminAllowNamespace],
    ['--admin-allow-cidr', flags.adminAllowCidr],
    ['--egress-allow-cidr', flags.egressAllowCidr],
  ];
  if (!flags.networkPolicy) {
    const given = lists.filter(([, v]) => v !== undefined).map(([flag]) => flag);
    if (given.length > 0)
      problems.push(`${given.join(', ')} shape the NetworkPolicies: add --network-policy`);
    return undefined;
  }
  const namespaces = flags.adminAllowNamespace ?? [];
  for (const ns of namespaces) {
    if (isDNS1123Label(ns).length > 0)
      problems.push(`--admin-allow-namespace ${JSON.stringify(ns)} is not a namespace name`);
  }
  const cidrs = (flag: string, values: string[] | undefined) => {
    for (const cidr of values ?? []) {
      if (!isValidCIDR(cidr))
        problems.push(`${flag} ${JSON.stringify(cidr)} is not a CIDR (e.g. 192.0.2.10/32)`);
    }
    return values ?? [];
  };
  return {
    adminNamespaces: namespaces,
    adminCidrs: cidrs('--admin-allow-cidr', flags.adminAllowCidr),
    egressCidrs: cidrs('--egress-allow-cidr', flags.egressAllowCidr),
  };
}

/** What to tell the user about policies that will refuse something they may want. */
export function networkPolicyNotes(p: NetworkPolicyOptions): string[] {
  if (p.adminCidrs.length > 0) return [];
  return [
    "--network-policy without --admin-allow-cidr: `isthmus check`, `routes` and `gateways` read the admin port through the API server's pod proxy, which a CNI that enforces policies against the API server's address will refuse; give that address (kind: the control-plane node's; managed clusters: the control plane's range)",
  ];
}

const TCP = (port: number, endPort?: number) => ({
  protocol: 'TCP',
  port,
  ...(endPort !== undefined ? { endPort } : {}),
});
/** The pods of one component, by the labels install gives them (workloads.ts). */
const podsOf = (component: string) => ({
  podSelector: { matchLabels: { ...PART_OF, 'app.kubernetes.io/component': component } },
});
const ipBlocks = (cidrs: readonly string[]) => cidrs.map((cidr) => ({ ipBlock: { cidr } }));

function policy(opts: InstallOptions, component: string, ingress: object[]): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `isthmus-${component}`, namespace: opts.namespace, labels: { ...PART_OF } },
    spec: { ...podsOf(component), policyTypes: ['Ingress'], ingress },
  };
}

export function networkPolicyManifests(opts: InstallOptions): object[] {
  const p = opts.networkPolicy;
  if (!p) return [];
  const admin = (from: object[], port: number = PORTS.admin) => {
    const peers = [
      ...from,
      ...p.adminNamespaces.map((name) => ({
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } },
      })),
      ...ipBlocks(p.adminCidrs),
    ];
    // No peer at all: no rule, so nothing reaches the port (an empty `from` would admit everyone).
    return peers.length > 0 ? [{ from: peers, ports: [TCP(port)] }] : [];
  };
  const controller = policy(opts, 'controller', admin([]));
  if (!opts.gateway) return [controller];
  const { first, last } = opts.egressPortRange;
  return [
    policy(opts, 'gateway', [
      { ports: [TCP(PORTS.ingress)] },
      { from: [{ namespaceSelector: {} }, ...ipBlocks(p.egressCidrs)], ports: [TCP(first, last)] },
      ...admin([podsOf('controller')]),
    ]),
    policy(opts, 'identity', [
      { from: [podsOf('gateway')], ports: [TCP(PORTS.identity)] },
      { ports: [TCP(PORTS.identityHealth)] },
      ...admin([], PORTS.identityAdmin),
    ]),
    controller,
  ];
}
