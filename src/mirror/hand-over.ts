/**
 * A mirror name handed over from Linkerd (README "Moving from Linkerd multicluster", step 2): when
 * Linkerd's mirror of a cluster is deleted, Isthmus makes its own mirror of that name at once. Its
 * callers hold the old mirror's ClusterIP (a JVM's DNS cache, a client that dials the address, an
 * open connection), so the new mirror asks the API server for that very address. A refusal (422:
 * the address was given to another Service meanwhile, or is outside the range) is not worth a
 * mirror: it is created again without, and the Link says so (link-watcher.ts).
 *
 * The decisions are pure; `VacatedNames` only remembers the informer's last copy of the deleted
 * Service until the name is held again.
 */
import { isIsthmusError } from '../errors.js';
import type { InformerEvent } from '../kube/informer.js';
import { CLUSTER_NAME_LABEL, MIRRORED_SERVICE_LABEL } from '../kube/keys.js';
import { isIsthmusMirror } from '../kube/linkerd-mirror.js';
import type { V1Service } from '../kube/types.js';
import { ipBytes } from '../kube/validation/ip-bytes.js';

/**
 * The ClusterIP of a deleted Service that a mirror of `cluster` taking its name may keep: a mirror
 * of that cluster Isthmus did not make (Linkerd's, by its two labels), of type ClusterIP with an
 * address (not headless). undefined for anything else.
 */
export function vacatedClusterIP(vacated: V1Service | undefined, cluster: string): string | undefined {
  const labels = vacated?.metadata?.labels ?? {};
  if (labels[MIRRORED_SERVICE_LABEL] !== 'true' || labels[CLUSTER_NAME_LABEL] !== cluster) return undefined;
  if (isIsthmusMirror(vacated)) return undefined;
  const spec = vacated?.spec ?? {};
  if ((spec.type ?? 'ClusterIP') !== 'ClusterIP') return undefined;
  const ip = spec.clusterIP;
  return ip && ip !== 'None' && ipBytes(ip) !== undefined ? ip : undefined;
}

/**
 * The address the new mirror `desired` asks for: the vacated one, if the mirror has a ClusterIP and
 * the address is of the family the mirror gets (the one it names, else the cluster's default, where
 * known): of another family, the API server would give the mirror that family, and kube-proxy would
 * find no slice of it (the local gateways are of the cluster's family).
 */
export function keptClusterIP(
  vacated: V1Service | undefined,
  cluster: string,
  desired: V1Service,
  clusterFamily: string | undefined,
): string | undefined {
  if (desired.spec?.clusterIP === 'None') return undefined;
  const ip = vacatedClusterIP(vacated, cluster);
  if (ip === undefined) return undefined;
  const family = desired.spec?.ipFamilies?.[0] ?? clusterFamily;
  const own = ipBytes(ip)?.length === 4 ? 'IPv4' : 'IPv6';
  return family === undefined || family === own ? ip : undefined;
}

/** `service` asking for `ip`, single-stack (what a mirror without a named family gets anyway). */
export function withClusterIP(service: V1Service, ip: string): V1Service {
  return { ...service, spec: { ...service.spec, clusterIP: ip, clusterIPs: [ip] } };
}

/** `service` leaving its address to the API server. */
export function withoutClusterIP(service: V1Service): V1Service {
  const { clusterIP: _ip, clusterIPs: _ips, ...spec } = service.spec ?? {};
  return { ...service, spec };
}

/**
 * What the API server said when it refused the address a create asked for: a 422 whose causes are
 * about `spec.clusterIP`/`spec.clusterIPs` ("provided IP is already allocated", "is not in the
 * valid range", another family). undefined for any other error, which the create fails with.
 */
export function clusterIPRefusal(err: unknown): string | undefined {
  if (!isIsthmusError(err, 'KUBE_INVALID')) return undefined;
  const causes = (err as { causes?: { field?: string }[] }).causes ?? [];
  const aboutIP = causes.some((c) => c.field?.startsWith('spec.clusterIP'));
  return aboutIP || /spec\.clusterIPs?\b/.test(err.message) ? err.message : undefined;
}

/** Bounds what is remembered: Linkerd's mirrors of a cluster no Link targets come and go too. */
const MAX_VACATED = 10_000;

/**
 * The last copy of each deleted Service whose ClusterIP a mirror could keep (`vacatedClusterIP` for
 * its own cluster), by `namespace/name`, until the name is held again (by our new mirror, or by
 * anyone: its address is its own then). Fed by the local Service informer, before any sync reads
 * it; only what the decision reads is kept. The oldest go first past MAX_VACATED.
 */
export class VacatedNames {
  private readonly byName = new Map<string, V1Service>();

  observe(e: InformerEvent<V1Service>): void {
    const { namespace = '', name = '' } = e.object.metadata ?? {};
    const key = `${namespace}/${name}`;
    this.byName.delete(key);
    if (e.type !== 'delete') return;
    const cluster = e.object.metadata?.labels?.[CLUSTER_NAME_LABEL];
    if (cluster === undefined || vacatedClusterIP(e.object, cluster) === undefined) return;
    const { type, clusterIP, clusterIPs } = e.object.spec ?? {};
    this.byName.set(key, {
      metadata: {
        namespace,
        name,
        labels: { [MIRRORED_SERVICE_LABEL]: 'true', [CLUSTER_NAME_LABEL]: cluster },
      },
      spec: { ...(type ? { type } : {}), clusterIP, ...(clusterIPs ? { clusterIPs } : {}) },
    });
    if (this.byName.size > MAX_VACATED) {
      const oldest = this.byName.keys().next().value;
      if (oldest !== undefined) this.byName.delete(oldest);
    }
  }

  get(namespace: string, name: string): V1Service | undefined {
    return this.byName.get(`${namespace}/${name}`);
  }

  get size(): number {
    return this.byName.size;
  }
}
