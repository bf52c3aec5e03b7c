import { type CheckFacts, type CheckResult, linkLabel, type RemoteAccess } from '../types.js';
import { resultOf, unreadable } from './result.js';

const WHAT = "every Link's remote API credentials work";

/** What to do about each way the credentials can fail. */
function hint(cluster: string, secret: string, r: Exclude<RemoteAccess, { ok: true }>): string {
  const relink = `re-create it with \`isthmus link --context <${cluster}> --cluster-name ${cluster} | kubectl apply -f -\``;
  switch (r.kind) {
    case 'secret-missing':
      return `Link ${cluster}: credentials Secret ${secret} does not exist; ${relink}`;
    case 'secret-invalid':
      return `Link ${cluster}: credentials Secret ${secret} holds no usable kubeconfig (${r.message}); ${relink}`;
    case 'unauthorized':
      return `Link ${cluster}: the remote API server rejects the token in ${secret} (401: ${r.message}); the token was revoked or is wrong: ${relink}`;
    case 'forbidden':
      return `Link ${cluster}: the remote identity lacks permissions (403: ${r.message}); apply the isthmus-remote-access RBAC in ${cluster} (isthmus install)`;
    case 'untrusted':
      return `Link ${cluster}: the remote API server's certificate is not trusted by the CA in ${secret} (${r.message}); the Secret was made for another cluster or the server's certificate changed: ${relink}`;
    case 'server-error':
      return `Link ${cluster}: the remote API server answers with a server error (${r.message}); it is reachable and the credentials are not in question: check its health (\`kubectl --context <${cluster}> get --raw '/readyz?verbose'\`)`;
    case 'unreachable':
      return `Link ${cluster}: the remote API server is unreachable (${r.message}); check the server address in ${secret} and the network path`;
    default:
      return `Link ${cluster}: ${r.message}`;
  }
}

export function checkCredentials(facts: CheckFacts): CheckResult {
  const blocked = unreadable(WHAT, 'Links', facts.links);
  if (blocked || !facts.links.ok) return blocked!;
  const failures: string[] = [];
  for (const { link, remote } of facts.links.value) {
    if (remote.ok) continue;
    const secret = `${link.metadata?.namespace ?? ''}/${link.spec?.clusterCredentialsSecret ?? ''}`;
    failures.push(hint(linkLabel(link), secret, remote));
  }
  return resultOf(WHAT, failures);
}
