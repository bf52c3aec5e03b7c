/**
 * Does each Isthmus service account still hold what `isthmus install` grants it? The grants are
 * expanded into single permissions (one verb on one resource of one group, in one scope) and each
 * is put to the API server as a SubjectAccessReview for that service account, as `linkerd
 * multicluster check` verifies the service mirror's permissions. The API server's answer counts,
 * not the Role objects: an aggregated, edited or missing binding is caught the same way.
 */
import type { KubeClient } from '../../kube/client.js';
import { R } from '../../kube/resources.js';
import { GRANTS } from '../install/rbac.js';
import type { Permission } from './types.js';

/** Every permission the installed RBAC grants, one per verb × group × resource. */
export function requiredPermissions(namespace: string): Permission[] {
  return GRANTS.flatMap((g) =>
    g.rules.flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.flatMap((res) => {
          const [resource, subresource] = res.split('/') as [string, string | undefined];
          return rule.verbs.map(
            (verb): Permission => ({
              serviceAccount: g.serviceAccount,
              verb,
              group,
              resource,
              ...(subresource ? { subresource } : {}),
              ...(g.scope === 'namespace' ? { namespace } : {}),
            }),
          );
        }),
      ),
    ),
  );
}

/** How a permission reads in a hint: `update links/status (multicluster.isthmus.dev) cluster-wide`. */
export function describePermission(p: Permission): string {
  const res = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
  const group = p.group ? ` (${p.group})` : '';
  return `${p.verb} ${res}${group} ${p.namespace ? `in ${p.namespace}` : 'cluster-wide'}`;
}

interface SubjectAccessReview {
  apiVersion: string;
  kind: string;
  spec: Record<string, unknown>;
  status?: { allowed?: boolean };
}

const CONCURRENCY = 8;

/** The permissions the API server denies (empty: all held). */
export async function deniedPermissions(client: KubeClient, namespace: string): Promise<Permission[]> {
  const wanted = requiredPermissions(namespace);
  const allowed: boolean[] = new Array(wanted.length);
  let next = 0;
  const worker = async () => {
    while (next < wanted.length) {
      const i = next++;
      const p = wanted[i]!;
      const review = await client.create<SubjectAccessReview>(R.subjectAccessReviews, {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: `system:serviceaccount:${namespace}:${p.serviceAccount}`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
          resourceAttributes: {
            verb: p.verb,
            group: p.group,
            resource: p.resource,
            ...(p.subresource ? { subresource: p.subresource } : {}),
            ...(p.namespace ? { namespace: p.namespace } : {}),
          },
        },
      });
      allowed[i] = review.status?.allowed === true;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return wanted.filter((_, i) => !allowed[i]);
}
