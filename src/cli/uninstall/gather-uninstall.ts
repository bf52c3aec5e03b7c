/** What `isthmus uninstall` reads before deciding (plan-uninstall.ts decides). */
import type { KubeClient } from '../../kube/client.js';
import { isNotFound } from '../../kube/errors.js';
import {
  CLUSTER_NAME_LABEL,
  CRL_CONFIGMAP,
  FEDERATED_SERVICE_LABEL,
  MANAGED_BY_FAILOVER,
  MANAGED_BY_FEDERATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  MIRRORED_SERVICE_LABEL,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { isIsthmusMirror } from '../../kube/linkerd-mirror.js';
import { apiVersionOf, R, type ResourceRef } from '../../kube/resources.js';
import type { KubeObject, Link, TrafficSplit, V1EndpointSlice } from '../../kube/types.js';
import { INSTALL_KINDS } from '../check/pre-install.js';
import { PART_OF } from '../install/options.js';
import { resourceOf } from '../lab/apply-objects.js';
import type { UninstallFacts } from './plan-uninstall.js';

const PART_OF_SELECTOR = Object.entries(PART_OF)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');

/** A list whose resource is not served (its CRD is gone already) is empty, not an error. */
async function listOf<T extends KubeObject>(
  client: KubeClient,
  res: ResourceRef,
  opts: { namespace?: string; labelSelector?: string } = {},
): Promise<T[]> {
  try {
    const { items } = await client.list<T>(res, opts);
    // List items of built-in kinds carry no apiVersion/kind; the delete manifest needs both.
    return items.map((o) => ({ ...o, apiVersion: apiVersionOf(res), kind: res.kind }));
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/**
 * The revocation list the gateways mount: `isthmus certs revoke` has it made with `kubectl create
 * configmap`, without our labels, so it is found by its name (ours in isthmus-system).
 */
async function crlConfigMap(client: KubeClient): Promise<KubeObject[]> {
  const cm = await client.get(R.configMaps, SYSTEM_NAMESPACE, CRL_CONFIGMAP);
  return cm ? [{ ...cm, apiVersion: apiVersionOf(R.configMaps), kind: R.configMaps.kind }] : [];
}

const keyOf = (o: KubeObject) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export async function gatherUninstallFacts(client: KubeClient): Promise<UninstallFacts> {
  // `--admission-policy`'s kinds too (an API server before 1.30 serves none: listed as empty).
  const resources = INSTALL_KINDS.map((kind) => resourceOf({ kind } as KubeObject));
  const labelled = await Promise.all(
    resources.map((res) =>
      listOf(client, res, {
        ...(res.namespaced ? { namespace: SYSTEM_NAMESPACE } : {}),
        labelSelector: PART_OF_SELECTOR,
      }),
    ),
  );
  // Labelled already where the user added our labels: listed once.
  const installed = [
    ...new Map([...labelled.flat(), ...(await crlConfigMap(client))].map((o) => [keyOf(o), o])).values(),
  ];
  const sliceOf = (manager: string) =>
    listOf(client, R.endpointSlices, { labelSelector: `${MANAGED_BY_LABEL}=${manager}` });
  const [links, trafficSplits, mirrors, federated, sliceLists, namespaces] = await Promise.all([
    listOf<Link>(client, R.links, { namespace: SYSTEM_NAMESPACE }),
    listOf<TrafficSplit>(client, R.trafficSplitsV1alpha2),
    listOf(client, R.services, { labelSelector: `${MIRRORED_SERVICE_LABEL}=true` }),
    listOf(client, R.services, { labelSelector: `${FEDERATED_SERVICE_LABEL}=true` }),
    Promise.all([MANAGED_BY_MIRROR, MANAGED_BY_FAILOVER, MANAGED_BY_FEDERATION].map(sliceOf)),
    listOf(client, R.namespaces, { labelSelector: `${MIRRORED_SERVICE_LABEL}=true,${CLUSTER_NAME_LABEL}` }),
  ]);
  const mirrorSlices = new Map((sliceLists[0] ?? []).map((s) => [keyOf(s), s as V1EndpointSlice]));
  const firstSliceOf = (svc: KubeObject) => mirrorSlices.get(keyOf({ ...svc, kind: 'EndpointSlice' }));
  return {
    links,
    trafficSplits,
    installed,
    // Linkerd's own mirrors carry the same mirrored-service label (a cluster moving to Isthmus may
    // still be linked by Linkerd's service mirror): they are Linkerd's to delete, not ours, and so
    // is anyone else's Service so labelled. Slices tell our older remote-discovery mirrors.
    leftovers: [
      ...mirrors.filter((s) => isIsthmusMirror(s, [firstSliceOf(s)])),
      ...federated,
      ...sliceLists.flat(),
    ],
    mirrorNamespaces: namespaces.map((n) => n.metadata?.name ?? ''),
  };
}
