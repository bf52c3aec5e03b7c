/**
 * Where everything of the local lab lives. Each cluster gets its own /24 of the loopback range and
 * each "pod" its own address in it, so that the addresses look like a cluster's (one IP per pod,
 * the same ports in every cluster) while all of it stays on this host.
 *
 *   127.0.N.1   API server (sandbox) :6443        127.0.N.4   controller admin :4191
 *   127.0.N.2   gateway :4143 :4191 egress 20000+  127.0.N.10+ podinfo replicas :9898
 *   127.0.N.3   identity :8080 (TLS) :9990 (health) 127.0.N.20  frontend :8080
 *               :9991 (admin, /metrics)            127.0.N.32-254 pods of every other Deployment
 *                                                              (objects only, no process)
 */
import { IsthmusError } from '../../errors.js';
import { PORTS } from '../../kube/keys.js';
import { parseClusterList } from '../commands/sandbox.js';

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

/**
 * The default lab, and the demo's parts by position in any lab (`lab up --clusters`): the first
 * cluster has the frontend and the failover TrafficSplit (east's part), the second exports podinfo
 * and podinfo-direct (west's part), every further one exports its podinfo.
 */
export const LAB_CLUSTERS = ['east', 'west'] as const;
/**
 * At most this many clusters: each runs three node processes (identity, gateway, controller) beside
 * the lab's own, and each cluster links to every other (n × (n - 1) Links, as many mirror watches and
 * probers). Five (16 processes, 20 Links) come up in about 25 s on a 2-core machine.
 */
export const MAX_LAB_CLUSTERS = 5;
/** The last cluster's /24 is at most 127.0.251.x, as `--base 250` of two clusters always had it. */
const MAX_LAB_OCTET = 251;
/**
 * The longest name the demo derives from a cluster's, `podinfo-direct-<cluster>` (a mirror),
 * must stay a Service name: a DNS-1035 label of at most 63 characters.
 */
const MAX_LAB_CLUSTER_NAME = 63 - 'podinfo-direct-'.length;
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

/**
 * `lab up --clusters`: DNS-1123 labels (as `isthmus certs --clusters` takes them), unique,
 * 2 to MAX_LAB_CLUSTERS of them. A usage error says what is wrong.
 */
export function parseLabClusters(text: string): string[] {
  const names = parseClusterList(text);
  const usage = (message: string) => new IsthmusError('USAGE', message, { terminal: true });
  if (names.length < 2) throw usage(`a lab needs at least 2 clusters (--clusters ${text})`);
  if (names.length > MAX_LAB_CLUSTERS)
    throw usage(`a lab has at most ${MAX_LAB_CLUSTERS} clusters (--clusters ${text})`);
  const long = names.filter((n) => n.length > MAX_LAB_CLUSTER_NAME);
  if (long.length > 0)
    throw usage(
      `lab cluster names have at most ${MAX_LAB_CLUSTER_NAME} characters (podinfo-direct-<cluster> is a Service name): ${long.join(', ')}`,
    );
  return names;
}

/**
 * The first cluster at 127.0.<base>.x, each next one on the next /24 (east, then west, by default).
 * A `base` that puts a cluster past 127.0.251.x is a usage error.
 */
export function labTopology(base: number, names: readonly string[] = LAB_CLUSTERS): LabCluster[] {
  const maxBase = MAX_LAB_OCTET - names.length + 1;
  if (!Number.isInteger(base) || base < 1 || base > maxBase) {
    // Worded as it always was for the default two clusters.
    const more =
      names.length === LAB_CLUSTERS.length ? '' : ` with ${names.length} clusters (each takes the next /24)`;
    throw new IsthmusError('USAGE', `--base must be 1-${maxBase}${more}`, { terminal: true });
  }
  return names.map((name, i) => labCluster(name, base + i));
}

/** The one node of a lab cluster, named as kind names it, at the API server's address. */
export function labNode(c: LabCluster): { name: string; ip: string } {
  return { name: `${c.name}-control-plane`, ip: c.api.host };
}

/** The first and last host octets of the addresses of the pods of every other Deployment. */
const WORKLOAD_HOSTS = { first: 32, last: 254 } as const;

/**
 * The pod IPs the lab gives the replicas of the Deployments it runs no process for (a user's own,
 * lab-deployments.ts), in order of allocation.
 */
export function workloadPodHosts(c: LabCluster): string[] {
  const hosts: string[] = [];
  for (let i = WORKLOAD_HOSTS.first; i <= WORKLOAD_HOSTS.last; i++) hosts.push(`127.0.${c.octet}.${i}`);
  return hosts;
}
