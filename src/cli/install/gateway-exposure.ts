/**
 * How the gateway's LoadBalancer Service is exposed in a real cloud: the settings Linkerd's
 * multicluster chart takes as `gateway.serviceAnnotations`, `loadBalancerSourceRanges`,
 * `loadBalancerClass`, `serviceExternalTrafficPolicy` and `nodePort` (an internal NLB on EKS, an
 * internal load balancer on GKE, source ranges that only let the peer clusters' egress in).
 * Pure, and checked here with the API server's own rules, so a typo stops `isthmus install`
 * before anything is printed for `kubectl apply`.
 */

import { isValidCIDR } from '../../kube/validation/service.js';
import { isQualifiedName } from '../../kube/validation/strings.js';

export interface GatewayExposure {
  annotations: Record<string, string>;
  loadBalancerSourceRanges: string[];
  loadBalancerClass?: string;
  externalTrafficPolicy?: 'Cluster' | 'Local';
  nodePort?: number;
}

export interface GatewayExposureFlags {
  /** `KEY=VALUE`, repeated. */
  gatewayServiceAnnotation?: string[];
  /** Comma-separated CIDRs. */
  gatewayLoadBalancerSourceRanges?: string;
  gatewayLoadBalancerClass?: string;
  gatewayExternalTrafficPolicy?: string;
  gatewayNodePort?: string;
}

/** Flags → exposure; each problem is pushed with the flag's name, as install's other checks are. */
export function gatewayExposureFromFlags(
  flags: GatewayExposureFlags,
  serviceType: string,
  problems: string[],
): GatewayExposure {
  const out: GatewayExposure = { annotations: {}, loadBalancerSourceRanges: [] };
  const lbOnly = (flag: string) => {
    if (serviceType !== 'LoadBalancer') problems.push(`${flag} needs --gateway-service-type LoadBalancer`);
  };
  // The API server allows these on externally reachable Services only (not ClusterIP).
  const externalOnly = (flag: string) => {
    if (serviceType === 'ClusterIP')
      problems.push(`${flag} needs --gateway-service-type LoadBalancer or NodePort`);
  };
  for (const item of flags.gatewayServiceAnnotation ?? []) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const errs = eq < 0 ? ['expected KEY=VALUE'] : isQualifiedName(key);
    if (errs.length > 0)
      problems.push(`--gateway-service-annotation ${JSON.stringify(item)}: ${errs.join('; ')}`);
    else out.annotations[key] = item.slice(eq + 1);
  }
  if (flags.gatewayLoadBalancerSourceRanges !== undefined) {
    lbOnly('--gateway-load-balancer-source-ranges');
    for (const cidr of flags.gatewayLoadBalancerSourceRanges.split(',').map((c) => c.trim())) {
      if (isValidCIDR(cidr)) out.loadBalancerSourceRanges.push(cidr);
      else
        problems.push(
          `--gateway-load-balancer-source-ranges: ${JSON.stringify(cidr)} is not a CIDR (e.g. 10.9.8.0/24)`,
        );
    }
  }
  if (flags.gatewayLoadBalancerClass !== undefined) {
    lbOnly('--gateway-load-balancer-class');
    const errs = isQualifiedName(flags.gatewayLoadBalancerClass);
    if (errs.length > 0) problems.push(`--gateway-load-balancer-class: ${errs.join('; ')}`);
    else out.loadBalancerClass = flags.gatewayLoadBalancerClass;
  }
  const policy = flags.gatewayExternalTrafficPolicy;
  if (policy !== undefined) {
    externalOnly('--gateway-external-traffic-policy');
    if (policy === 'Cluster' || policy === 'Local') out.externalTrafficPolicy = policy;
    else problems.push('--gateway-external-traffic-policy must be Cluster or Local');
  }
  if (flags.gatewayNodePort !== undefined) {
    externalOnly('--gateway-node-port');
    // The API server judges its own --service-node-port-range; only a non-port is refused here.
    const n = Number(flags.gatewayNodePort);
    if (!/^\d+$/.test(flags.gatewayNodePort) || n < 1 || n > 65535) {
      problems.push(
        '--gateway-node-port must be a port number (by default the API server takes 30000-32767)',
      );
    } else out.nodePort = n;
  }
  return out;
}

/** Kubernetes' default `--service-node-port-range`. */
const DEFAULT_NODE_PORTS = { first: 30000, last: 32767 };

/** What install says on stderr about an exposure the API server may refuse (its range is its own). */
export function exposureNotes(e: GatewayExposure): string[] {
  const port = e.nodePort;
  if (port === undefined || (port >= DEFAULT_NODE_PORTS.first && port <= DEFAULT_NODE_PORTS.last)) return [];
  return [
    `--gateway-node-port ${port} is outside Kubernetes' default NodePort range ${DEFAULT_NODE_PORTS.first}-${DEFAULT_NODE_PORTS.last}: the API server refuses it unless its --service-node-port-range includes it`,
  ];
}

/** The Service fields an exposure sets: metadata annotations, and spec fields besides type and ports. */
export function exposureFields(e: GatewayExposure): {
  annotations?: Record<string, string>;
  spec: Record<string, unknown>;
} {
  const spec: Record<string, unknown> = {};
  if (e.loadBalancerClass) spec.loadBalancerClass = e.loadBalancerClass;
  if (e.loadBalancerSourceRanges.length > 0) spec.loadBalancerSourceRanges = [...e.loadBalancerSourceRanges];
  if (e.externalTrafficPolicy) spec.externalTrafficPolicy = e.externalTrafficPolicy;
  return {
    ...(Object.keys(e.annotations).length > 0 ? { annotations: { ...e.annotations } } : {}),
    spec,
  };
}
