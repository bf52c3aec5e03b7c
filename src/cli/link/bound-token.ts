/**
 * `isthmus link --token-duration`: the Link's credentials carry a bound token (TokenRequest) for the
 * remote read-only account, valid for the asked lifetime, instead of the account's legacy Secret
 * token that never expires. Like a projected token it dies with its ServiceAccount; unlike one,
 * nothing renews it: the user re-runs `isthmus link` and applies the new Secret in place, which
 * the controller picks up without a restart (src/mirror/credentials-watch.ts).
 */
import { IsthmusError, isIsthmusError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { type BoundToken, requestServiceAccountToken } from '../../kube/token-request.js';
import { accountSource } from './render.js';

/** A token for the API server itself (no audiences: kube-apiserver's own) from `account`. */
export async function boundRemoteToken(
  remote: KubeClient,
  cluster: string,
  account: string,
  expirationSeconds: number,
): Promise<BoundToken> {
  try {
    return await requestServiceAccountToken(remote, SYSTEM_NAMESPACE, account, { expirationSeconds });
  } catch (err) {
    if (isIsthmusError(err, 'KUBE_NOT_FOUND')) {
      throw new IsthmusError(
        'LINK_INVALID',
        `cluster ${cluster} has no ServiceAccount ${SYSTEM_NAMESPACE}/${account}: ${accountSource(account)}?`,
        { terminal: true, cause: err },
      );
    }
    if (isIsthmusError(err, 'KUBE_FORBIDDEN')) {
      throw new IsthmusError(
        'LINK_INVALID',
        `--token-duration: you may not create serviceaccounts/token for ${SYSTEM_NAMESPACE}/${account} in cluster ${cluster} (${err.message}); ` +
          "ask for that permission, or link without --token-duration to use the account's Secret token",
        { terminal: true, cause: err },
      );
    }
    throw err;
  }
}

/** What to tell the user about a bound token's end; pure. */
export function boundTokenNote(bound: BoundToken, askedSeconds: number, now = new Date()): string {
  const expires = new Date(bound.expirationTimestamp);
  if (Number.isNaN(expires.getTime())) {
    return "the Link's token expires, but the remote API server did not say when: re-run `isthmus link` before then";
  }
  const given = Math.round((expires.getTime() - now.getTime()) / 1000);
  // kube-apiserver caps lifetimes at its --service-account-max-token-expiration without an error.
  const capped =
    given < askedSeconds - 60
      ? ` (the remote API server shortened the ${askedSeconds} s asked for: its --service-account-max-token-expiration)`
      : '';
  return (
    `the Link's token expires at ${bound.expirationTimestamp}${capped}. Before then, re-run this ` +
    '`isthmus link` and apply its output: the controller reconnects with the new token, and ' +
    '`isthmus check` and the isthmus_remote_credentials_expiration_timestamp_seconds metric warn ahead of time'
  );
}
