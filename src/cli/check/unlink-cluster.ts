/**
 * `isthmus unlink` (Linkerd's `multicluster unlink`): delete the Link and its credentials Secret.
 * The mirrors are not deleted here: the controller holds the finalizer
 * multicluster.isthmus.dev/mirrors on the Link and releases it only after removing them, so the
 * Link disappearing *is* the signal that the mirrors are gone (src/mirror/link-manager.ts).
 */
import { IsthmusError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import {
  CLUSTER_NAME_LABEL,
  credentialsRoleName,
  GATEWAY_SERVICE_NAME,
  LINK_FINALIZER,
  MIRRORED_SERVICE_LABEL,
  REMOTE_KUBECONFIG_KEY,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { isIsthmusMirror } from '../../kube/linkerd-mirror.js';
import { R } from '../../kube/resources.js';
import type { Link, V1Deployment, V1Secret, V1Service } from '../../kube/types.js';
import { peerAccountOf } from '../link/allow.js';

export interface UnlinkOptions {
  wait: boolean;
  timeoutMs: number;
  /** What was deleted, in kubectl's words (stdout). */
  progress: (line: string) => void;
  /** What the user should know or do next (stderr, as `isthmus link` prints its notes); default: progress. */
  note?: (line: string) => void;
  /** Between two looks at the Link while waiting. */
  pollMs?: number;
}

export interface UnlinkOutcome {
  /** Every Link to the cluster, comma-separated: one holds it, the others were refused. */
  linkName: string;
  /** Set with `wait`: mirror Services of the cluster before minus after. */
  mirrorsRemoved?: number;
}

async function countMirrors(client: KubeClient, cluster: string): Promise<number> {
  const { items } = await client.list<V1Service>(R.services, {
    labelSelector: `${MIRRORED_SERVICE_LABEL}=true,${CLUSTER_NAME_LABEL}=${cluster}`,
  });
  return items.filter((s) => isIsthmusMirror(s)).length;
}

export async function unlinkCluster(
  client: KubeClient,
  cluster: string,
  opts: UnlinkOptions,
): Promise<UnlinkOutcome> {
  const { items } = await client.list<Link>(R.links, { namespace: SYSTEM_NAMESPACE });
  // One Link holds a cluster and the controller refuses any other (src/mirror/link-claims.ts), but
  // all of them go: left behind, the next one would take the mirrors over.
  const links = items.filter((l) => l.spec?.targetClusterName === cluster && l.metadata?.name);
  if (links.length === 0) {
    const known = items.map((l) => l.spec?.targetClusterName).filter(Boolean);
    // A Link retargeted away from the cluster keeps its mirrors until the new target is verified.
    const holding = items
      .filter((l) => l.status?.mirroredClusterName === cluster)
      .map(
        (l) =>
          `; Link ${l.metadata?.name} targets "${l.spec?.targetClusterName}" but still holds the mirrors of "${cluster}" (status.mirroredClusterName) until that cluster is verified: fix its targetClusterName, or delete it`,
      );
    throw new IsthmusError(
      'KUBE_NOT_FOUND',
      `no Link to cluster "${cluster}" in ${SYSTEM_NAMESPACE} (linked: ${known.join(', ') || 'none'})${holding.join('')}`,
      { terminal: true },
    );
  }
  const before = opts.wait ? await countMirrors(client, cluster) : 0;
  for (const link of links) await deleteLink(client, cluster, link, opts);
  // Said once the Links are gone; a failure to read the gateway only loses the note, not the unlink.
  const admission = await admissionNote(client, cluster).catch(() => undefined);
  if (admission) (opts.note ?? opts.progress)(admission);
  const names = links.map((l) => l.metadata!.name!);
  if (!opts.wait) return { linkName: names.join(', ') };

  const deadline = Date.now() + opts.timeoutMs;
  for (const linkName of names) {
    while (await client.get(R.links, SYSTEM_NAMESPACE, linkName)) {
      if (Date.now() > deadline) {
        throw new IsthmusError(
          'WAIT_TIMEOUT',
          `Link ${linkName} still exists after ${Math.round(opts.timeoutMs / 1000)}s: the controller releases its finalizer ${LINK_FINALIZER} after deleting the mirrors; is isthmus-controller running?`,
        );
      }
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
    }
  }
  return {
    linkName: names.join(', '),
    mirrorsRemoved: Math.max(0, before - (await countMirrors(client, cluster))),
  };
}

/**
 * The ingress admits the clusters this one links to plus its --allow-cluster list
 * (src/gateway/peers.ts): links made both ways, as `isthmus link` guides, so an unlink here also
 * turns away the other cluster's gateway, whose own Link to this cluster may still be in use.
 * Said when the gateway runs here and its --allow-cluster does not name the cluster.
 */
async function admissionNote(client: KubeClient, cluster: string): Promise<string | undefined> {
  const gateway = await client.get<V1Deployment>(R.deployments, SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME);
  if (!gateway) return undefined;
  const allowed = (gateway.spec?.template?.spec?.containers ?? [])
    .flatMap((c) => [...(c.args ?? []), ...(c.command ?? [])])
    .filter((a) => a.startsWith('--allow-cluster='))
    .flatMap((a) => a.slice('--allow-cluster='.length).split(','))
    .filter((c) => c !== '');
  if (allowed.includes(cluster)) return undefined;
  const list = allowed.length > 0 ? ` (${allowed.join(', ')})` : ' (empty)';
  return `note: this cluster's gateway admits the clusters it has a Link to and its --allow-cluster list${list}, so it now refuses the gateway of ${cluster}: if ${cluster} still has a Link to this cluster, its traffic here stops; unlink there too, or keep admitting it with \`isthmus upgrade --allow-cluster ${[...allowed, cluster].join(',')} | kubectl apply -f -\``;
}

/** Deletes one Link, its credentials Secret and the Role granting it, and says what lives on in the remote cluster. */
async function deleteLink(
  client: KubeClient,
  cluster: string,
  link: Link,
  { progress, note = progress }: Pick<UnlinkOptions, 'progress' | 'note'>,
): Promise<void> {
  const linkName = link.metadata!.name!;
  const secret = link.spec?.clusterCredentialsSecret;
  const credentials = secret ? await client.get<V1Secret>(R.secrets, SYSTEM_NAMESPACE, secret) : undefined;
  await client.delete(R.links, SYSTEM_NAMESPACE, linkName);
  progress(`link.multicluster.isthmus.dev "${linkName}" deleted`);
  // The controller's clean-up is local (it deletes mirrors here), so the credentials can go at once.
  if (secret && (await client.delete(R.secrets, SYSTEM_NAMESPACE, secret))) {
    progress(`secret "${secret}" deleted`);
  }
  // The Role `isthmus link` printed beside the Link, granting the controller that Secret.
  const role = credentialsRoleName(link.spec?.targetClusterName ?? cluster);
  if (await client.delete(R.roleBindings, SYSTEM_NAMESPACE, role))
    progress(`rolebinding.rbac.authorization.k8s.io "${role}" deleted`);
  if (await client.delete(R.roles, SYSTEM_NAMESPACE, role))
    progress(`role.rbac.authorization.k8s.io "${role}" deleted`);
  // An account `isthmus allow` made for this cluster lives on in the remote one until deleted there.
  const kubeconfig = credentials?.data?.[REMOTE_KUBECONFIG_KEY];
  const account = kubeconfig ? peerAccountOf(Buffer.from(kubeconfig, 'base64').toString('utf8')) : undefined;
  if (account) {
    note(
      `note: cluster ${cluster} still has the read-only account ${SYSTEM_NAMESPACE}/${account} made for this one; to revoke its token, run against that cluster (your context for it may be named otherwise): kubectl --context ${cluster} -n ${SYSTEM_NAMESPACE} delete serviceaccount ${account}`,
    );
  }
}
