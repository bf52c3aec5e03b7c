import {
  LINK_SERVICE_ACCOUNT_ANNOTATION,
  REMOTE_ACCESS_SERVICE_ACCOUNT,
  SYSTEM_NAMESPACE,
} from '../../../kube/keys.js';
import type { Link } from '../../../kube/types.js';
import { regrant } from '../../../mirror/remote-api-failure.js';
import { LINK_LABEL } from '../../install/options.js';
import { credentialsSecretName } from '../../link/render.js';
import { type LinkObject, leftoverLinkObjects } from '../link-objects.js';
import {
  type CheckFacts,
  type CheckResult,
  type LinkFacts,
  linkLabel,
  type RemoteAccess,
  type TokenLifetime,
} from '../types.js';
import { type ExpiryVerdict, expiryVerdict } from './certificates.js';
import { clusterNow, startsWithinSkew } from './clock.js';
import { resultOf, unreadable } from './result.js';

const WHAT = "every Link's remote API credentials work";

/**
 * The `isthmus link` that makes new credentials like these: the same account (a per-peer one
 * must not become the shared one) and, for a token that expires, a token that expires. The account
 * is the one the token names, else the one `isthmus link` recorded on the Link (which outlives a
 * deleted Secret); a Link that records none, from an older `isthmus link`, gets the caveat instead.
 */
function linkCommand(link: LinkFacts): string {
  const cluster = targetCluster(link.link);
  const known = remoteAccount(link);
  const account = known && known !== REMOTE_ACCESS_SERVICE_ACCOUNT ? ` --service-account-name ${known}` : '';
  const duration = link.token ? ' --token-duration <duration>' : '';
  const isthmusLink = `isthmus link --context <${cluster}> --cluster-name ${cluster}${account}${duration} <the Link's other flags>`;
  const name = link.link.metadata?.name;
  const apart = name !== undefined && name !== cluster;
  const apply = apart ? `kubectl apply -l ${LINK_LABEL}=${cluster} -f -` : 'kubectl apply -f -';
  const caveat = known
    ? ''
    : `, with the same --service-account-name as before if it was linked with an account made by \`isthmus allow\` (without it, the Link moves to the shared ${REMOTE_ACCESS_SERVICE_ACCOUNT} account)`;
  return `\`${isthmusLink} | ${apply}\`${caveat}${apart ? credentialsOnly(link.link, name, cluster) : ''}`;
}

/** The remote cluster's name: what `isthmus link --cluster-name` takes, and names what it prints after. */
function targetCluster(link: Link): string {
  return link.spec?.targetClusterName || link.metadata?.name || '?';
}

/**
 * For a Link named apart from its cluster (`southx` for `south`): `isthmus link` prints a Link
 * named after the cluster, which applied beside this one would be a second Link of that cluster
 * (the controller rejects one of the two). So only the credentials it prints are applied: `-l`
 * selects its Secret and the Role and RoleBinding that let the controller read it, which carry the
 * link label (the Link does not); and this Link is pointed at that Secret if it names another.
 */
function credentialsOnly(link: Link, name: string, cluster: string): string {
  const secret = credentialsSecretName(cluster);
  const namespace = link.metadata?.namespace ?? SYSTEM_NAMESPACE;
  const repoint =
    link.spec?.clusterCredentialsSecret === secret
      ? ''
      : `; then point Link ${name} at that Secret: \`kubectl -n ${namespace} patch link ${name} --type merge -p '{"spec":{"clusterCredentialsSecret":"${secret}"}}'\``;
  return ` (\`-l\` applies its credentials, ${secret}, only: the Link it prints is named ${cluster}, and beside ${name} it would be a second Link of cluster ${cluster})${repoint}`;
}

/** The remote account: the one the token names, else the one `isthmus link` recorded on the Link. */
function remoteAccount(link: LinkFacts): string | undefined {
  return link.tokenAccount ?? link.link.metadata?.annotations?.[LINK_SERVICE_ACCOUNT_ANNOTATION];
}

/** What to do about each way the credentials can fail. */
function hint(link: LinkFacts, secret: string, r: Exclude<RemoteAccess, { ok: true }>): string {
  const cluster = linkLabel(link.link);
  const relink = `re-create it with ${linkCommand(link)}`;
  switch (r.kind) {
    case 'secret-missing':
      return `Link ${cluster}: credentials Secret ${secret} does not exist; ${relink}`;
    case 'secret-invalid':
      return `Link ${cluster}: credentials Secret ${secret} holds no usable kubeconfig (${r.message}); ${relink}`;
    case 'unauthorized':
      return `Link ${cluster}: the remote API server rejects the token in ${secret} (401: ${r.message}); the token was revoked or is wrong: ${relink}`;
    case 'forbidden':
      // The controller's Forbidden condition gives the same advice (remote-api-failure.ts).
      return `Link ${cluster}: the remote identity lacks permissions (403: ${r.message}); ${regrant({
        cluster: targetCluster(link.link),
        secret,
        account: remoteAccount(link),
      })}`;
    case 'untrusted':
      return `Link ${cluster}: the remote API server's certificate is not trusted by the CA in ${secret} (${r.message}); the Secret was made for another cluster or the server's certificate changed: ${relink}`;
    case 'server-error':
      return `Link ${cluster}: the remote API server answers with a server error (${r.message}); it is reachable and the credentials are not in question: check its health (\`kubectl --context <${targetCluster(link.link)}> get --raw '/readyz?verbose'\`)`;
    case 'unreachable':
      return `Link ${cluster}: the remote API server is unreachable (${r.message}); check the server address in ${secret} and the network path`;
    default:
      return `Link ${cluster}: ${r.message}`;
  }
}

/**
 * A token that expires (`isthmus link --token-duration`), as certificates are judged: a warning
 * once less than min(30 days, a tenth of its lifetime) remains, a failure once it has lapsed. Its
 * nbf is the remote API server's clock when it minted it, and that server alone judges it: one
 * within minutes past `now` is that clock's lead, not a token to replace, so it counts as started.
 */
function tokenVerdict(token: TokenLifetime | undefined, now: Date): ExpiryVerdict | undefined {
  if (!token) return undefined;
  const notBefore = token.notBefore ? new Date(token.notBefore) : new Date(0);
  const at = startsWithinSkew(notBefore, now) ? notBefore : now;
  return expiryVerdict(notBefore, new Date(token.expiresAt), at);
}

export function checkCredentials(facts: CheckFacts): CheckResult {
  const blocked = unreadable(WHAT, 'Links', facts.links);
  if (blocked || !facts.links.ok) return blocked!;
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const linkFacts of facts.links.value) {
    const { link, remote, token } = linkFacts;
    const cluster = linkLabel(link);
    const secret = `${link.metadata?.namespace ?? ''}/${link.spec?.clusterCredentialsSecret ?? ''}`;
    // By the API server's clock, not this machine's: a cluster's clock (the remote's) wrote the dates.
    const verdict = tokenVerdict(token, clusterNow(facts));
    const renew = `re-run ${linkCommand(linkFacts)}`;
    if (!remote.ok && remote.kind === 'unauthorized' && verdict?.status === 'fail') {
      failures.push(`Link ${cluster}: the token in ${secret} ${verdict.message}; ${renew}`);
    } else if (!remote.ok) {
      failures.push(hint(linkFacts, secret, remote));
    } else if (verdict && verdict.status !== 'ok') {
      warnings.push(`Link ${cluster}: the token in ${secret} ${verdict.message}; ${renew}`);
    }
  }
  return resultOf(WHAT, failures, [...warnings, ...leftoverLines(facts)]);
}

/**
 * What `isthmus link` made for a cluster whose Link is gone (`kubectl delete link`, a GitOps prune):
 * its Secret may still hold a token that reads the remote cluster, so it is said, once per cluster.
 */
function leftoverLines(facts: CheckFacts): string[] {
  const objects = facts.linkObjects;
  if (objects === undefined || !facts.links.ok) return [];
  if (!objects.ok) return [`cannot look for credentials left of deleted Links: ${objects.error}`];
  const links = [...facts.links.value.map((l) => l.link), ...(facts.linksBeingDeleted ?? [])];
  const byCluster = new Map<string, LinkObject[]>();
  for (const o of leftoverLinkObjects(objects.value, links))
    byCluster.set(o.cluster, [...(byCluster.get(o.cluster) ?? []), o]);
  return [...byCluster].map(([cluster, left]) => {
    const named = left.map((o) =>
      o.kind === 'secret'
        ? `${o.kind} ${o.name}, whose token may still read that cluster`
        : `${o.kind} ${o.name}`,
    );
    return `cluster ${cluster} has no Link, yet what \`isthmus link\` made for it is left (labelled ${LINK_LABEL}=${cluster}): ${named.join(', ')}; delete them with \`isthmus unlink --cluster-name ${cluster}\``;
  });
}
