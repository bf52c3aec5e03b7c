/**
 * Follows one Link's credentials Secret, so that credentials rotated in place (same Secret, a new
 * kubeconfig or token: `isthmus link` re-run) reach the remote client, and a Secret created after
 * its Link is used at once rather than at the next retry. One watch per Link, of that Secret alone
 * (field selector on its name) in the Link's namespace, which the Role `isthmus link` prints beside
 * the Link grants by name (the controller may read no other Secret there). The cache keeps metadata only: an event is a cue to re-read the Secret
 * and compare fingerprints, so no key material is held twice.
 */
import { createHash } from 'node:crypto';
import { IsthmusError, isIsthmusError } from '../errors.js';
import type { BackoffPolicy } from '../kube/backoff.js';
import type { KubeClient } from '../kube/client.js';
import { createInformer, type Informer } from '../kube/informer.js';
import { credentialsRoleName, REMOTE_KUBECONFIG_KEY } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { kubeconfigTokenClaims } from '../kube/service-account-token.js';
import type { V1Secret } from '../kube/types.js';

export function watchCredentials(
  client: KubeClient,
  namespace: string,
  name: string,
  changed: () => void,
  backoff?: BackoffPolicy,
): Informer<V1Secret> {
  const informer = createInformer<V1Secret>(client, R.secrets, {
    namespace,
    fieldSelector: `metadata.name=${name}`,
    transform: (secret) => ({ metadata: secret.metadata ?? {} }),
    ...(backoff ? { backoff } : {}),
  });
  informer.onEvent(changed);
  // A watch that works again (a Role re-applied) may find the Secret as it was, so no event:
  // the Secret is read again all the same, as the Role's loss may be why it could not be.
  informer.onHealth((h) => h.connected && changed());
  informer.start();
  return informer;
}

/** What a remote client is built from: the `kubeconfig` key, as loadKubeconfigSecret reads it. */
function credentialsKubeconfig(secret: V1Secret): string {
  return (
    secret.stringData?.[REMOTE_KUBECONFIG_KEY] ??
    Buffer.from(secret.data?.[REMOTE_KUBECONFIG_KEY] ?? '', 'base64').toString('utf8')
  );
}

/** The credentials' kubeconfig, hashed: the same hash, the same remote client. */
export function credentialsFingerprint(secret: V1Secret): string {
  return createHash('sha256').update(credentialsKubeconfig(secret)).digest('hex');
}

/**
 * When the credentials' token began and stops working (its `nbf`/`iat` and `exp` claims:
 * `isthmus link --token-duration`); undefined for a token that never expires, or credentials that
 * are no token at all.
 */
export function credentialsLifetime(secret: V1Secret): { notBefore?: Date; expiresAt: Date } | undefined {
  const claims = kubeconfigTokenClaims(credentialsKubeconfig(secret));
  if (!claims?.expiresAt) return undefined;
  return { expiresAt: claims.expiresAt, ...(claims.notBefore ? { notBefore: claims.notBefore } : {}) };
}

/**
 * The Link's credentials Secret; a missing one, or one the controller may not read (a Link applied
 * without the Role `isthmus link` prints with it), is an error that says what to do.
 */
export async function readCredentials(
  client: KubeClient,
  namespace: string,
  name: string,
  cluster: string,
  signal?: AbortSignal,
): Promise<V1Secret> {
  let secret: V1Secret | undefined;
  try {
    secret = await client.get<V1Secret>(R.secrets, namespace, name, signal ? { signal } : {});
  } catch (err) {
    if (!isIsthmusError(err, 'KUBE_FORBIDDEN')) throw err;
    throw new IsthmusError(
      'KUBECONFIG_INVALID',
      `the controller may not read Secret ${name}: apply the Role and RoleBinding ${credentialsRoleName(cluster)} that \`isthmus link\` prints with the Link (${err.message})`,
      { cause: err },
    );
  }
  if (!secret) throw new IsthmusError('KUBECONFIG_INVALID', `Secret ${name} not found`);
  return secret;
}
