/**
 * Reads the admin port of Isthmus pods through the API server's pod proxy, as `linkerd multicluster
 * gateways` does: the controller's Prometheus page (any replica will do: followers keep probing
 * too, src/mirror/leadership.ts), or `--controller-admin` when given (a port-forward); every
 * running gateway's `/routes`, `/certificate` and `/metrics` (with identity's, whether they refused
 * the CRL file); and an unready pod's `/ready` (deployment-pods.ts).
 */
import { describeError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { KubeApiError } from '../../kube/errors.js';
import { PORTS, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1Pod } from '../../kube/types.js';
import { parseSamples } from './prom-histogram.js';
import type { CrlFileState, GatewayListeners, GatewayPodChain, RefusedClaim } from './types.js';

const CONTROLLER_SELECTOR = 'app.kubernetes.io/name=isthmus-controller';
const GATEWAY_SELECTOR = 'app.kubernetes.io/name=isthmus-gateway';
const IDENTITY_SELECTOR = 'app.kubernetes.io/name=isthmus-identity';

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

/** GET `path` on a pod's admin port (the gateway's and controller's, unless `port`) through the pod proxy. */
export async function podAdminGet(
  client: KubeClient,
  pod: string,
  path: string,
  timeoutMs: number,
  port: number = PORTS.admin,
): Promise<unknown> {
  const url = `/api/v1/namespaces/${SYSTEM_NAMESPACE}/pods/${pod}:${port}/proxy${path}`;
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

/**
 * `path` of each of `pods`' admin port, parsed by `read` (which throws on an answer it cannot use);
 * a pod that does not answer is reported with the error, not fatal.
 */
async function askEachPod<T>(
  client: KubeClient,
  pods: V1Pod[],
  path: string,
  timeoutMs: number,
  read: (body: unknown) => T,
  port: number = PORTS.admin,
): Promise<Array<{ pod: V1Pod; name: string } & ({ ok: true; value: T } | { ok: false; error: unknown })>> {
  return Promise.all(
    pods.map(async (pod) => {
      const name = pod.metadata?.name ?? '';
      try {
        return {
          pod,
          name,
          ok: true as const,
          value: read(await podAdminGet(client, name, path, timeoutMs, port)),
        };
      } catch (error) {
        return { pod, name, ok: false as const, error };
      }
    }),
  );
}

const jsonOf = (body: unknown): unknown => (typeof body === 'string' ? JSON.parse(body) : body);

/** Each running gateway pod's egress routes; a pod that does not answer is reported, not fatal. */
export async function readGatewayRoutes(
  client: KubeClient,
  timeoutMs = 5000,
): Promise<
  { pod: string; ready: boolean; routes?: GatewayRoute[]; refused?: RefusedClaim[]; error?: string }[]
> {
  const pods = await runningPods(client, GATEWAY_SELECTOR);
  const answers = await askEachPod(client, pods, '/routes', timeoutMs, (body) => {
    const parsed = jsonOf(body) as { routes?: GatewayRoute[]; refused?: RefusedClaim[] };
    return { routes: parsed.routes ?? [], refused: parsed.refused ?? [] };
  });
  return answers.map((a) => {
    const ready = podTakesTraffic(a.pod);
    return a.ok ? { pod: a.name, ready, ...a.value } : { pod: a.name, ready, error: describeError(a.error) };
  });
}

/**
 * Each running gateway pod's admin `/certificate`: the chain it presents to peers. Pods being
 * deleted are left out: after a restart the old replicas drain with the old certificate, on their
 * way out. A pod that does not answer is reported, not fatal.
 */
export async function readGatewayCertificates(
  client: KubeClient,
  timeoutMs = 5000,
): Promise<GatewayPodChain[]> {
  const answers = await askEachPod(
    client,
    await livePods(client, GATEWAY_SELECTOR),
    '/certificate',
    timeoutMs,
    (body) => {
      const chain = (jsonOf(body) as { chain?: unknown } | null)?.chain;
      if (!Array.isArray(chain) || chain.length === 0 || !chain.every((c) => typeof c === 'string'))
        throw new Error('/certificate answered no chain');
      return chain as string[];
    },
  );
  return answers.map((a) =>
    a.ok
      ? { pod: a.name, ok: true, chainPem: a.value }
      : { pod: a.name, ok: false, error: certificateReadError(a.error) },
  );
}

/** The running pods of `selector` not being deleted (those draining on their way out are not asked). */
async function livePods(client: KubeClient, selector: string): Promise<V1Pod[]> {
  return (await runningPods(client, selector)).filter((p) => !p.metadata?.deletionTimestamp);
}

/** Where each component says whether it refused the CRL file: its admin port, and the gauge's name. */
const CRL_GAUGES = [
  {
    component: 'gateway',
    selector: GATEWAY_SELECTOR,
    port: PORTS.admin,
    gauge: 'isthmus_gateway_crl_file_refused',
  },
  {
    component: 'identity',
    selector: IDENTITY_SELECTOR,
    port: PORTS.identityAdmin,
    gauge: 'isthmus_identity_crl_file_refused',
  },
] as const;

/**
 * Whether each running, not terminating gateway and identity pod holds a CRL file it refused: its
 * admin `/metrics` (one GET per pod). A pod without the page or the gauge (a version before it) has
 * no `refused`; one that does not answer is reported with the reason, not fatal.
 */
export async function readCrlFileStates(client: KubeClient, timeoutMs = 5000): Promise<CrlFileState[]> {
  const each = await Promise.all(
    CRL_GAUGES.map(async ({ component, selector, port, gauge }) => {
      const pods = await livePods(client, selector);
      const answers = await askEachPod(
        client,
        pods,
        '/metrics',
        timeoutMs,
        (body) => parseSamples(typeof body === 'string' ? body : '').find((s) => s.name === gauge)?.value,
        port,
      );
      return answers.map((a): CrlFileState => {
        if (a.ok)
          return {
            pod: a.name,
            component,
            ok: true,
            ...(a.value === undefined ? {} : { refused: a.value === 1 }),
          };
        if (ownStatus(a.error) === 404) return { pod: a.name, component, ok: true };
        return { pod: a.name, component, ok: false, error: describeError(a.error) };
      });
    }),
  );
  return each.flat();
}

/** The status of an answer of the pod itself: the API server's own errors carry a Status reason. */
function ownStatus(err: unknown): number | undefined {
  return err instanceof KubeApiError && err.reason === undefined ? err.status : undefined;
}

/**
 * Why a pod's `/certificate` was not read. The gateway's own answers carry no Status reason, where
 * the API server's do (the pod gone: NotFound; unreachable: ServiceUnavailable).
 */
function certificateReadError(err: unknown): string {
  const own = ownStatus(err);
  if (own === 404) return 'no /certificate endpoint, answered 404: a gateway version before it';
  if (own === 503) return 'no certificate yet (503)';
  return describeError(err);
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
