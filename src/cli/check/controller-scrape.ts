/**
 * Reads the admin port of Isthmus pods through the API server's pod proxy, as `linkerd multicluster
 * gateways` does: the controller's Prometheus page (any replica will do: followers keep probing
 * too, src/mirror/leadership.ts), or `--controller-admin` when given (a port-forward); every
 * running gateway's `/routes`; and an unready pod's `/ready` (deployment-pods.ts).
 */
import { describeError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { PORTS, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Pod } from '../../kube/types.js';
import type { GatewayListeners, RefusedClaim } from './types.js';

const CONTROLLER_SELECTOR = 'app.kubernetes.io/name=isthmus-controller';
const GATEWAY_SELECTOR = 'app.kubernetes.io/name=isthmus-gateway';

async function runningPods(client: KubeClient, selector: string): Promise<V1Pod[]> {
  const { items } = await client.list<V1Pod>(R.pods, {
    namespace: SYSTEM_NAMESPACE,
    labelSelector: selector,
  });
  return items.filter((p) => p.status?.phase === 'Running' && p.metadata?.name);
}

/**
 * Whether callers reach the pod: Ready and not terminating. The mirrors' slices list only the
 * gateway pods their EndpointSlices call ready (src/mirror/gateway-addresses.ts), and a gateway
 * has no listeners before it is ready (certificates, first egress apply) nor once it drains.
 */
export function podTakesTraffic(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    !pod.metadata?.deletionTimestamp &&
    pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
  );
}

/** GET `path` on a pod's admin port through the pod proxy. */
export async function podAdminGet(
  client: KubeClient,
  pod: string,
  path: string,
  timeoutMs: number,
): Promise<unknown> {
  const url = `/api/v1/namespaces/${SYSTEM_NAMESPACE}/pods/${pod}:${PORTS.admin}/proxy${path}`;
  const { body } = await client.request('get', 'GET', url, { signal: AbortSignal.timeout(timeoutMs) });
  return body;
}

/** One egress listener as a gateway's admin `/routes` lists it. */
export interface GatewayRoute {
  port: number;
  remote: { host: string; port: number };
  authority: string;
  mirror: string;
}

/** Each running gateway pod's egress routes; a pod that does not answer is reported, not fatal. */
export async function readGatewayRoutes(
  client: KubeClient,
  timeoutMs = 5000,
): Promise<
  { pod: string; ready: boolean; routes?: GatewayRoute[]; refused?: RefusedClaim[]; error?: string }[]
> {
  const pods = await runningPods(client, GATEWAY_SELECTOR);
  return Promise.all(
    pods.map(async (p) => {
      const pod = p.metadata?.name ?? '';
      const ready = podTakesTraffic(p);
      try {
        const body = await podAdminGet(client, pod, '/routes', timeoutMs);
        const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as {
          routes?: GatewayRoute[];
          refused?: RefusedClaim[];
        };
        return { pod, ready, routes: parsed.routes ?? [], refused: parsed.refused ?? [] };
      } catch (err) {
        return { pod, ready, error: describeError(err) };
      }
    }),
  );
}

/** Each running gateway pod's egress ports (what `isthmus check` compares with the mirrors). */
export async function readGatewayListeners(
  client: KubeClient,
  timeoutMs = 5000,
): Promise<GatewayListeners[]> {
  return (await readGatewayRoutes(client, timeoutMs)).map(({ pod, ready, routes, refused, error }) =>
    routes
      ? { pod, ready, ports: routes.map((r) => r.port), refused: refused ?? [] }
      : { pod, ready, error: error ?? '' },
  );
}

export async function scrapeControllerMetrics(
  client: KubeClient,
  adminUrl: string | undefined,
  timeoutMs = 5000,
): Promise<string> {
  if (adminUrl) {
    const res = await fetch(new URL('/metrics', adminUrl), { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`${adminUrl}/metrics answered ${res.status}`);
    return res.text();
  }
  const pod = (await runningPods(client, CONTROLLER_SELECTOR))[0]?.metadata?.name;
  if (!pod) throw new Error('no running isthmus-controller pod (pass --controller-admin URL)');
  const body = await podAdminGet(client, pod, '/metrics', timeoutMs);
  return typeof body === 'string' ? body : '';
}
