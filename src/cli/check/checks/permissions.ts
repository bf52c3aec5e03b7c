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
  for (const p of facts.deniedPermissions.value)
    bySa.set(p.serviceAccount, [...(bySa.get(p.serviceAccount) ?? []), p]);
  const failures = [...bySa].map(
    ([sa, denied]) =>
      `${sa} may not ${denied.map(describePermission).join(', ')}: its role or binding was changed; re-apply the RBAC of \`isthmus install\``,
  );
  return resultOf(WHAT, failures);
}
