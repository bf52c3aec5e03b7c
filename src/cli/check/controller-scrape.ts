/**
 * Reads the controller's Prometheus page: from `--controller-admin` when given (a port-forward),
 * else through the API server's pod proxy to a running isthmus-controller pod
 * (any replica will do: followers keep probing too, src/mirror/leadership.ts).
 */
import type { KubeClient } from '../../kube/client.js';
import { PORTS, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Pod } from '../../kube/types.js';

const CONTROLLER_SELECTOR = 'app.kubernetes.io/name=isthmus-controller';

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
  const { items } = await client.list<V1Pod>(R.pods, {
    namespace: SYSTEM_NAMESPACE,
    labelSelector: CONTROLLER_SELECTOR,
  });
  const pod = items.find((p) => p.status?.phase === 'Running');
  if (!pod?.metadata?.name)
    throw new Error('no running isthmus-controller pod (pass --controller-admin URL)');
  const path = `/api/v1/namespaces/${SYSTEM_NAMESPACE}/pods/${pod.metadata.name}:${PORTS.admin}/proxy/metrics`;
  const { body } = await client.request('get', 'GET', path, { signal: AbortSignal.timeout(timeoutMs) });
  return typeof body === 'string' ? body : '';
}
