/**
 * Where everything of the local lab lives. Each cluster gets its own /24 of the loopback range and
 * each "pod" its own address in it, so that the addresses look like a cluster's (one IP per pod,
 * the same ports in every cluster) while all of it stays on this host.
 *
 *   127.0.N.1   API server (sandbox) :6443        127.0.N.4   controller admin :4191
 *   127.0.N.2   gateway :4143 :4191 egress 20000+  127.0.N.10+ podinfo replicas :9898
 *   127.0.N.3   identity :8080 (TLS) :9990 (health) 127.0.N.20  frontend :8080
 *               :9991 (admin, /metrics)
 */
import { PORTS } from '../../kube/keys.js';

export interface LabCluster {
  name: string;
  /** Third octet of the cluster's loopback /24. */
  octet: number;
  api: { host: string; port: number };
  gateway: { host: string; ingressPort: number; adminPort: number };
  /** Certify on `port` (TLS), plaintext gRPC health on `healthPort`, /metrics on `adminPort`, as in a pod. */
  identity: { host: string; port: number; healthPort: number; adminPort: number };
  controller: { host: string; adminPort: number };
  podinfo: { hostOf(replica: number): string; port: number; maxReplicas: number };
  frontend: { host: string; port: number };
}

export const LAB_CLUSTERS = ['east', 'west'] as const;
export const LAB_NAMESPACE = 'test';
export const PODINFO_PORT = 9898;
export const FRONTEND_PORT = 8080;

export function labCluster(name: string, octet: number): LabCluster {
  const ip = (last: number) => `127.0.${octet}.${last}`;
  return {
    name,
    octet,
    api: { host: ip(1), port: 6443 },
    gateway: { host: ip(2), ingressPort: PORTS.ingress, adminPort: PORTS.admin },
    identity: {
      host: ip(3),
      port: PORTS.identity,
      healthPort: PORTS.identityHealth,
      adminPort: PORTS.identityAdmin,
    },
    controller: { host: ip(4), adminPort: PORTS.admin },
    podinfo: { hostOf: (replica) => ip(10 + replica), port: PODINFO_PORT, maxReplicas: 8 },
    frontend: { host: ip(20), port: FRONTEND_PORT },
  };
}

/** east at 127.0.<base>.x, west at 127.0.<base+1>.x. */
export function labTopology(base: number): LabCluster[] {
  return LAB_CLUSTERS.map((name, i) => labCluster(name, base + i));
}

/** The one node of a lab cluster, named as kind names it, at the API server's address. */
export function labNode(c: LabCluster): { name: string; ip: string } {
  return { name: `${c.name}-control-plane`, ip: c.api.host };
}
