/**
 * What `isthmus link` applies beside a Link (src/cli/link/render.ts): the credentials Secret and the
 * Role and RoleBinding that let isthmus-controller read it, each labelled isthmus.dev/link=<cluster>.
 * A Link deleted on its own (`kubectl delete link`, a GitOps prune) leaves them behind, with a
 * working read token for the remote cluster: `isthmus unlink` deletes them, `isthmus check` warns.
 */
import type { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R, type ResourceRef } from '../../kube/resources.js';
import type { KubeObject, Link, V1PolicyRule } from '../../kube/types.js';
import { LINK_LABEL } from '../install/options.js';

export interface LinkObject {
  /** As kubectl names the kind in `<kind> "<name>" deleted`. */
  kind: 'secret' | 'role.rbac.authorization.k8s.io' | 'rolebinding.rbac.authorization.k8s.io';
  name: string;
  /** Its isthmus.dev/link label: the cluster it was made for. */
  cluster: string;
  /** A Role: the Secrets it grants (resourceNames); a RoleBinding: its Role; a Secret: none. */
  refers: string[];
}

/** Deleted in this order: the binding before the Role it binds, as `kubectl delete` of the three would. */
const KINDS: readonly { kind: LinkObject['kind']; res: ResourceRef }[] = [
  { kind: 'secret', res: R.secrets },
  { kind: 'rolebinding.rbac.authorization.k8s.io', res: R.roleBindings },
  { kind: 'role.rbac.authorization.k8s.io', res: R.roles },
];

type Labelled = KubeObject & { rules?: V1PolicyRule[]; roleRef?: { name?: string } };

/** The objects labelled for `cluster` (every linked cluster when absent) in isthmus-system. */
export async function readLinkObjects(client: KubeClient, cluster?: string): Promise<LinkObject[]> {
  const labelSelector = cluster === undefined ? LINK_LABEL : `${LINK_LABEL}=${cluster}`;
  const lists = await Promise.all(
    KINDS.map(async ({ kind, res }) => {
      const { items } = await client.list<Labelled>(res, { namespace: SYSTEM_NAMESPACE, labelSelector });
      return items.map(
        (o): LinkObject => ({
          kind,
          name: o.metadata?.name ?? '',
          cluster: o.metadata?.labels?.[LINK_LABEL] ?? '',
          refers: o.roleRef?.name
            ? [o.roleRef.name]
            : (o.rules ?? []).flatMap((r) =>
                r.resources?.includes('secrets') ? (r.resourceNames ?? []) : [],
              ),
        }),
      );
    }),
  );
  return lists.flat();
}

/**
 * The objects none of `links` uses: not the credentials Secret a Link names, nor a Role granting
 * such a Secret, nor a RoleBinding of such a Role (a Link retargeted from the cluster, or named
 * apart from it, still reads those).
 */
export function unusedBy(objects: readonly LinkObject[], links: readonly Link[]): LinkObject[] {
  const secrets = new Set(links.map((l) => l.spec?.clusterCredentialsSecret));
  const roles = new Set(
    objects
      .filter((o) => o.kind === 'role.rbac.authorization.k8s.io' && o.refers.some((s) => secrets.has(s)))
      .map((o) => o.name),
  );
  return objects.filter((o) => {
    if (o.kind === 'secret') return !secrets.has(o.name);
    if (o.kind === 'role.rbac.authorization.k8s.io') return !roles.has(o.name);
    return !o.refers.some((r) => roles.has(r));
  });
}

/** What `isthmus link` left of clusters no Link targets any more, and no Link uses: leftovers. */
export function leftoverLinkObjects(objects: readonly LinkObject[], links: readonly Link[]): LinkObject[] {
  const targets = new Set(links.map((l) => l.spec?.targetClusterName));
  return unusedBy(
    objects.filter((o) => !targets.has(o.cluster)),
    links,
  );
}

/** Deletes `objects` in kubectl's order, saying each one deleted as kubectl does. */
export async function deleteLinkObjects(
  client: KubeClient,
  objects: readonly LinkObject[],
  progress: (line: string) => void,
): Promise<void> {
  for (const { kind, res } of KINDS) {
    for (const o of objects.filter((x) => x.kind === kind)) {
      if (await client.delete(res, SYSTEM_NAMESPACE, o.name)) progress(`${kind} "${o.name}" deleted`);
    }
  }
}
