/**
 * `isthmus unlink` (Linkerd's `multicluster unlink`): delete the Link and its credentials Secret.
 * The mirrors are not deleted here: the controller holds the finalizer
 * multicluster.isthmus.dev/mirrors on the Link and releases it only after removing them, so the
 * Link disappearing *is* the signal that the mirrors are gone (src/mirror/link-manager.ts).
 * A Link deleted on its own (`kubectl delete link`, a GitOps prune) leaves what `isthmus link` made
 * beside it, as Linkerd's unlink does not: those (link-objects.ts) are deleted with no Link too.
 */
import { IsthmusError } from '../../errors.js';
import { GATEWAY_ENV } from '../../gateway/config.js';
import type { KubeClient } from '../../kube/client.js';
import {
  CLUSTER_NAME_LABEL,
  credentialsRoleName,
  INSTALL_CLUSTER_NAME_LABEL,
  LINK_FINALIZER,
  MIRRORED_SERVICE_LABEL,
  REMOTE_KUBECONFIG_KEY,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { isIsthmusMirror } from '../../kube/linkerd-mirror.js';
import { R } from '../../kube/resources.js';
import type { Link, V1Namespace, V1Secret, V1Service } from '../../kube/types.js';
import { LINK_LABEL } from '../install/options.js';
import { peerAccountOf } from '../link/allow.js';
import { type GatewayAdmission, readGatewayAdmission } from './gateway-args.js';
import { deleteLinkObjects, readLinkObjects, unusedBy } from './link-objects.js';

export interface UnlinkOptions {
  wait: boolean;
  timeoutMs: number;
  /** What was deleted, in kubectl's words (stdout). */
  progress: (line: string) => void;
  /** What the user should know or do next (stderr, as `isthmus link` prints its notes); default: progress. */
  note?: (line: string) => void;
  /** Between two looks at the Link while waiting. */
  pollMs?: number;
  /** The `--kubeconfig`/`--context` unlink was given, for the commands its notes print. */
  kubeFlags?: readonly string[];
}

export interface UnlinkOutcome {
  /**
   * Every Link to the cluster, comma-separated: one holds it, the others were refused. Absent when
   * there was none, only what `isthmus link` made beside it (deleted all the same).
   */
  linkName?: string;
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
  // What `isthmus link` made for the cluster that no other Link reads (one retargeted from it does).
  const others = items.filter((l) => !links.includes(l));
  const leftovers = unusedBy(await readLinkObjects(client, cluster), others);
  if (links.length === 0) {
    if (leftovers.length === 0) throw noLink(cluster, items);
    // The Link went on its own (kubectl delete, a GitOps prune): its working credentials did not.
    opts.progress(
      `no Link to cluster "${cluster}" in ${SYSTEM_NAMESPACE}; deleting what \`isthmus link\` made for it (labelled ${LINK_LABEL}=${cluster})`,
    );
    // Read before they go: a Secret's token may name an account `isthmus allow` made over there.
    const secrets = await Promise.all(
      leftovers
        .filter((o) => o.kind === 'secret')
        .map((o) => client.get<V1Secret>(R.secrets, SYSTEM_NAMESPACE, o.name)),
    );
    await deleteLinkObjects(client, leftovers, opts.progress);
    for (const note of secrets.map((secret) => remoteAccountNote(cluster, secret)))
      if (note) (opts.note ?? opts.progress)(note);
    return {};
  }
  const before = opts.wait ? await countMirrors(client, cluster) : 0;
  for (const link of links) await deleteLink(client, cluster, link, opts);
  // Whatever labelled for the cluster is left under other names (deleteLink goes by the Link's names).
  await deleteLinkObjects(client, leftovers, opts.progress);
  // Said once the Links are gone; a failure to read the gateway only loses the note, not the unlink.
  const admission = await admissionNote(client, cluster, opts.kubeFlags ?? []).catch(() => undefined);
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

/** No Link to the cluster, nor anything `isthmus link` made for it: names the clusters linked. */
function noLink(cluster: string, items: readonly Link[]): IsthmusError {
  const known = items.map((l) => l.spec?.targetClusterName).filter(Boolean);
  // A Link retargeted away from the cluster keeps its mirrors until the new target is verified.
  const holding = items
    .filter((l) => l.status?.mirroredClusterName === cluster)
    .map(
      (l) =>
        `; Link ${l.metadata?.name} targets "${l.spec?.targetClusterName}" but still holds the mirrors of "${cluster}" (status.mirroredClusterName) until that cluster is verified: fix its targetClusterName, or delete it`,
    );
  return new IsthmusError(
    'KUBE_NOT_FOUND',
    `no Link to cluster "${cluster}" in ${SYSTEM_NAMESPACE} (linked: ${known.join(', ') || 'none'})${holding.join('')}`,
    { terminal: true },
  );
}

/**
 * The ingress admits the clusters this one links to plus its --allow-cluster list
 * (src/gateway/peers.ts): links made both ways, as `isthmus link` guides, so an unlink here also
 * turns away the other cluster's gateway, whose own Link to this cluster may still be in use.
 * Said when the gateway runs here and its list (read as the gateway reads it, gateway-args.ts)
 * does not name the cluster.
 */
async function admissionNote(
  client: KubeClient,
  cluster: string,
  kubeFlags: readonly string[],
): Promise<string | undefined> {
  const gateway = await readGatewayAdmission(client);
  if (!gateway) return undefined;
  const allowed = gateway.allowCluster;
  // A Link to this cluster itself (a mistake undone) never admitted anyone: nothing changes.
  if (allowed.includes(cluster) || (await localClusterName(client, gateway)) === cluster) return undefined;
  const list = allowed.length > 0 ? ` (${allowed.join(', ')})` : ' (empty)';
  // A list check cannot read may name the cluster: the note says so rather than assert the refusal.
  const unless = gateway.unreadList
    ? `unless its ${GATEWAY_ENV.allowCluster} (${gateway.unreadList}, not read here) names ${cluster}, `
    : '';
  return `note: this cluster's gateway admits the clusters it has a Link to and its --allow-cluster list${list}, so ${unless}it now refuses the gateway of ${cluster}: if ${cluster} still has a Link to this cluster, its traffic here stops; unlink there too, or keep admitting it with \`${['isthmus upgrade', ...kubeFlags, '--allow-cluster', [...allowed, cluster].join(','), '|', 'kubectl', ...kubeFlags, 'apply -f -'].join(' ')}\``;
}

/** This cluster's name: as the install recorded it on its namespace, else the gateway's --cluster. */
async function localClusterName(client: KubeClient, gateway: GatewayAdmission): Promise<string | undefined> {
  const ns = await client.get<V1Namespace>(R.namespaces, undefined, SYSTEM_NAMESPACE);
  return ns?.metadata?.labels?.[INSTALL_CLUSTER_NAME_LABEL] ?? gateway.cluster;
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
  const account = remoteAccountNote(cluster, credentials);
  if (account) note(account);
}

/** An account `isthmus allow` made for this cluster, named by the credentials' token, lives on in the remote one until deleted there. */
function remoteAccountNote(cluster: string, credentials: V1Secret | undefined): string | undefined {
  const kubeconfig = credentials?.data?.[REMOTE_KUBECONFIG_KEY];
  const account = kubeconfig ? peerAccountOf(Buffer.from(kubeconfig, 'base64').toString('utf8')) : undefined;
  return account
    ? `note: cluster ${cluster} still has the read-only account ${SYSTEM_NAMESPACE}/${account} made for this one; to revoke its token, run against that cluster (your context for it may be named otherwise): kubectl --context ${cluster} -n ${SYSTEM_NAMESPACE} delete serviceaccount ${account}`
    : undefined;
}
