/**
 * Does each Isthmus service account still hold what `isthmus install` grants it? The grants are
 * expanded into single permissions (one verb on one resource of one group, in one scope) and each
 * is put to the API server as an access review, as `linkerd multicluster check` verifies the
 * service mirror's permissions. The API server's answer counts, not the Role objects: an
 * aggregated, edited or missing binding is caught the same way.
 * - Locally, a SubjectAccessReview per permission, for the service account that holds it.
 * - On a remote cluster, a SelfSubjectAccessReview with the Link's own token: every authenticated
 *   user may ask about itself (the bootstrap policy's system:basic-user), so the read-only remote
 *   identity needs nothing more for it.
 */
import type { KubeClient } from '../../kube/client.js';
import { REMOTE_ACCESS_SERVICE_ACCOUNT } from '../../kube/keys.js';
import { R, type ResourceRef } from '../../kube/resources.js';
import { GRANTS, type Grant, installGrants, NAMESPACE_CREATION_GRANT } from '../install/rbac.js';
import type { Permission } from './types.js';

/** The single permissions of one grant, one per verb × group × resource. */
export function permissionsOf(g: Grant, namespace: string): Permission[] {
  return g.rules.flatMap((rule) =>
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
  );
}

/**
 * Every permission the installed RBAC grants (without the gateway's and identity's after
 * `--no-gateway`; with the gateway's pods grant when it runs `--dial-pod-ips-only`).
 */
export function requiredPermissions(
  namespace: string,
  gateway = true,
  gatewayDialPodIPsOnly = false,
): Permission[] {
  return installGrants({ gateway, enableNamespaceCreation: false, gatewayDialPodIPsOnly }).flatMap((g) =>
    permissionsOf(g, namespace),
  );
}

/** What the remote-access identity (a Link's token, in the remote cluster) must be able to do. */
export function remoteAccessPermissions(namespace: string): Permission[] {
  return GRANTS.filter((g) => g.serviceAccount === REMOTE_ACCESS_SERVICE_ACCOUNT).flatMap((g) =>
    permissionsOf(g, namespace),
  );
}

/** How a permission reads in a hint: `update links/status (multicluster.isthmus.dev) cluster-wide`. */
export function describePermission(p: Permission): string {
  const res = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
  const group = p.group ? ` (${p.group})` : '';
  const name = p.name ? ` ${p.name}` : '';
  return `${p.verb} ${res}${name}${group} ${p.namespace ? `in ${p.namespace}` : 'cluster-wide'}`;
}

interface AccessReview {
  apiVersion: string;
  kind: string;
  spec: Record<string, unknown>;
  status?: { allowed?: boolean };
}

const CONCURRENCY = 8;

function resourceAttributes(p: Permission) {
  return {
    verb: p.verb,
    group: p.group,
    resource: p.resource,
    ...(p.subresource ? { subresource: p.subresource } : {}),
    ...(p.namespace ? { namespace: p.namespace } : {}),
    ...(p.name ? { name: p.name } : {}),
  };
}

/** Asks about each permission (8 at a time) and returns those the API server denies. */
async function denied(
  client: KubeClient,
  wanted: Permission[],
  resource: ResourceRef,
  spec: (p: Permission) => Record<string, unknown>,
): Promise<Permission[]> {
  const allowed: boolean[] = new Array(wanted.length);
  let next = 0;
  const worker = async () => {
    while (next < wanted.length) {
      const i = next++;
      const review = await client.create<AccessReview>(resource, {
        apiVersion: 'authorization.k8s.io/v1',
        kind: resource.kind,
        spec: spec(wanted[i]!),
      });
      allowed[i] = review.status?.allowed === true;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return wanted.filter((_, i) => !allowed[i]);
}

/** Of `wanted`, what the API server denies to the service accounts holding them. */
function deniedToAccounts(
  client: KubeClient,
  namespace: string,
  wanted: Permission[],
): Promise<Permission[]> {
  return denied(client, wanted, R.subjectAccessReviews, (p) => ({
    user: `system:serviceaccount:${namespace}:${p.serviceAccount}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
    resourceAttributes: resourceAttributes(p),
  }));
}

/** What the controller needs of each Link's credentials Secret (the Role `isthmus link` prints). */
export function credentialsPermissions(namespace: string, secrets: readonly string[]): Permission[] {
  return [...new Set(secrets)].flatMap((name) =>
    ['get', 'list', 'watch'].map(
      (verb): Permission => ({
        serviceAccount: 'isthmus-controller',
        verb,
        group: '',
        resource: 'secrets',
        namespace,
        name,
      }),
    ),
  );
}

/**
 * The installed permissions, and the controller's read of each Link's credentials Secret
 * (`credentialsSecrets`), that the API server denies to the service accounts holding them.
 */
export function deniedPermissions(
  client: KubeClient,
  namespace: string,
  gateway: boolean,
  credentialsSecrets: readonly string[] = [],
  gatewayDialPodIPsOnly = false,
): Promise<Permission[]> {
  const wanted = [
    ...requiredPermissions(namespace, gateway, gatewayDialPodIPsOnly),
    ...credentialsPermissions(namespace, credentialsSecrets),
  ];
  return deniedToAccounts(client, namespace, wanted);
}

/** Whether the controller holds the opt-in grant of `isthmus install --enable-namespace-creation`. */
export async function controllerMayCreateNamespaces(client: KubeClient, namespace: string): Promise<boolean> {
  const wanted = permissionsOf(NAMESPACE_CREATION_GRANT, namespace);
  return (await deniedToAccounts(client, namespace, wanted)).length === 0;
}

/** Of `wanted`, what the client's own identity may not do. */
export function deniedToSelf(client: KubeClient, wanted: Permission[]): Promise<Permission[]> {
  return denied(client, wanted, R.selfSubjectAccessReviews, (p) => ({
    resourceAttributes: resourceAttributes(p),
  }));
}
