/**
 * What `isthmus routes` reads: each running gateway pod's `/routes`, and, for a pod that is not
 * ready, its `/ready` (the reason it has no listeners yet: certificates, the first egress apply),
 * both through the pod proxy; and the mirrors that have egress ports, which the listeners serve.
 */
import { describeError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { MIRRORED_SERVICE_LABEL } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Service } from '../../kube/types.js';
import { readGatewayRoutes } from './controller-scrape.js';
import { readReadiness } from './deployment-pods.js';
import { mirrorFacts } from './gather.js';
import type { RoutesFacts } from './routes-view.js';
import type { Fetched } from './types.js';

async function mirrorsWithEgressPorts(client: KubeClient): Promise<Fetched<string[]>> {
  try {
    const { items } = await client.list<V1Service>(R.services, {
      labelSelector: `${MIRRORED_SERVICE_LABEL}=true`,
    });
    const value = mirrorFacts(items, [])
      .filter((m) => m.egressPorts.length > 0)
      .map((m) => `${m.namespace}/${m.name}`);
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

export async function readRoutesFacts(client: KubeClient, timeoutMs = 5000): Promise<RoutesFacts> {
  const [pods, mirrors] = await Promise.all([
    readGatewayRoutes(client, timeoutMs),
    mirrorsWithEgressPorts(client),
  ]);
  return {
    pods: await Promise.all(
      pods.map(async (p) =>
        p.ready || !p.routes ? p : { ...p, readiness: await readReadiness(client, p.pod, timeoutMs) },
      ),
    ),
    mirrors,
  };
}
