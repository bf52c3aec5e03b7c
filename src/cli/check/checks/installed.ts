/**
 * Is Isthmus installed in this cluster at all? `linkerd check` stops at its first missing
 * prerequisite; here, with no install namespace (or one being deleted), or with neither the CRDs nor
 * the Deployments of `isthmus install`, every other check would fail too, each in its own words
 * (service accounts "whose role or binding was changed" that do not exist), and some would pass
 * with nothing to check. So that is the one result, saying how to install, as with an API server
 * that does not answer (api-reachable.ts). An install missing only some of its parts is checked in
 * full: the CRD and Deployment checks name what is missing.
 */
import { SYSTEM_NAMESPACE } from '../../../kube/keys.js';
import type { CheckFacts, CheckResult } from '../types.js';
import { REQUIRED_CRDS } from './crds.js';
import { ISTHMUS_DEPLOYMENTS } from './deployments.js';
import { resultOf } from './result.js';

export const INSTALLED_CHECK = 'Isthmus is installed in this cluster';

const INSTALL =
  'install it with `isthmus install --cluster-name <name> --trust-anchor <ca.crt> --issuer-cert <issuer.crt> --issuer-key <issuer.key> | kubectl apply -f -` (see `isthmus check --pre` first), or, if it is installed, check --context and --kubeconfig';

/** `a`, `a or b`, `a, b or c`. */
function orList(items: readonly string[]): string {
  return items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/** The single failure when nothing of the install is there to check; undefined otherwise. */
export function notInstalled(facts: CheckFacts): CheckResult | undefined {
  const ns = facts.installNamespace;
  const namespaceGone = ns.ok && ns.value !== 'active';
  const crds = facts.crds.ok ? facts.crds.value : undefined;
  const missingCrds = crds ? REQUIRED_CRDS.filter((name) => !crds[name]) : [];
  const noDeployment =
    facts.deployments.ok &&
    !facts.deployments.value.some((d) => (ISTHMUS_DEPLOYMENTS as readonly string[]).includes(d.name));
  const noCrd = missingCrds.length === REQUIRED_CRDS.length;
  if (!namespaceGone && !(noCrd && noDeployment)) return undefined;
  const missing = [
    ...(ns.ok && ns.value === 'absent' ? [`no namespace ${SYSTEM_NAMESPACE}`] : []),
    ...(ns.ok && ns.value === 'terminating' ? [`namespace ${SYSTEM_NAMESPACE} is being deleted`] : []),
    ...(missingCrds.length > 0 ? [`no CRD ${orList(missingCrds)}`] : []),
    ...(noDeployment ? [`no Deployment ${orList(ISTHMUS_DEPLOYMENTS)}`] : []),
  ];
  return resultOf(INSTALLED_CHECK, [
    `Isthmus is not installed in this cluster: ${missing.join(', ')}; ${INSTALL}`,
  ]);
}
