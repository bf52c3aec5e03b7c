/**
 * Do the Isthmus service accounts hold the permissions `isthmus install` granted them? A controller
 * that lost `update links/status` keeps running and silently stops reporting; this names what is
 * missing, per service account, from the API server's own SubjectAccessReview answers.
 */
import { describePermission } from '../permissions.js';
import type { CheckFacts, CheckResult, Permission } from '../types.js';
import { resultOf, unreadable } from './result.js';

const WHAT = 'the Isthmus service accounts have the permissions they need';

export function checkPermissions(facts: CheckFacts): CheckResult {
  const blocked = unreadable(WHAT, 'permissions (SubjectAccessReview)', facts.deniedPermissions);
  if (blocked || !facts.deniedPermissions.ok) return blocked!;
  const bySa = new Map<string, Permission[]>();
  const credentials = facts.deniedPermissions.value.filter((p) => p.name !== undefined);
  for (const p of facts.deniedPermissions.value.filter((p) => p.name === undefined))
    bySa.set(p.serviceAccount, [...(bySa.get(p.serviceAccount) ?? []), p]);
  const failures = [...bySa].map(
    ([sa, denied]) =>
      `${sa} may not ${denied.map(describePermission).join(', ')}: its role or binding was changed; re-apply the RBAC of \`isthmus install\``,
  );
  // A Link's credentials Secret is granted with the Link, not by the install.
  for (const secret of new Set(credentials.map((p) => p.name))) {
    failures.push(
      `isthmus-controller may not read the Link credentials Secret ${secret}: re-run \`isthmus link … | kubectl apply -f -\` for its cluster, which grants it by name (Role isthmus-controller-credentials-<cluster>)`,
    );
  }
  return resultOf(WHAT, failures);
}
