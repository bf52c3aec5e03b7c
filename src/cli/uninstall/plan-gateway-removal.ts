/**
 * `isthmus uninstall --gateway`: what is left to delete when an install that had a gateway becomes
 * one without (`isthmus install --no-gateway`), since `kubectl apply` prunes nothing. Pure, like
 * planUninstall, and it refuses while removing the gateway would strand something:
 * - the install is not `--no-gateway` yet: the controller would go on mirroring through a gateway
 *   that is gone, and `isthmus check` would report it missing;
 * - a Link has a gatewayAddress: its mirrors send callers to the local gateway;
 * - a mirror still lists egress ports (its Link's controller has not removed it yet).
 */
import {
  CRL_CONFIGMAP,
  EGRESS_PORTS_ANNOTATION,
  GATEWAY_SERVICE_NAME,
  INSTALL_GATEWAY_LABEL,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { deletionList, listed, nameOf, type UninstallFacts, type UninstallPlan } from './plan-uninstall.js';

/** The gateway's and the identity service's objects, by name: what `--no-gateway` does not render. */
export const GATEWAY_PART_NAMES: ReadonlySet<string> = new Set([
  GATEWAY_SERVICE_NAME,
  `${GATEWAY_SERVICE_NAME}-admin`,
  'isthmus-identity',
  'isthmus-trust-anchor',
  'isthmus-issuer',
  CRL_CONFIGMAP,
]);

export function planGatewayRemoval(facts: UninstallFacts): UninstallPlan {
  const problems: string[] = [];
  const namespace = facts.installed.find(
    (o) => o.kind === 'Namespace' && o.metadata?.name === SYSTEM_NAMESPACE,
  );
  if (namespace?.metadata?.labels?.[INSTALL_GATEWAY_LABEL] !== 'false') {
    problems.push(
      'this install still has a gateway: apply `isthmus install --no-gateway ...` first, so that the controller and isthmus check expect none',
    );
  }
  for (const link of facts.links) {
    if (link.spec?.gatewayAddress === undefined) continue;
    const cluster = link.spec.targetClusterName ?? link.metadata?.name ?? '';
    problems.push(
      `Link ${nameOf(link)} goes through the gateway: unlink it (isthmus unlink --cluster-name ${cluster} --wait), or link again with --no-gateway`,
    );
  }
  const tunnelled = facts.leftovers.filter(
    (o) => o.kind === 'Service' && o.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION] !== undefined,
  );
  if (tunnelled.length > 0) {
    problems.push(
      `${tunnelled.length} mirror(s) still send callers to the gateway's egress ports (${listed(tunnelled.map(nameOf))}): wait for the controller to remove them`,
    );
  }
  if (problems.length > 0) return { ok: false, problems };
  const objects = deletionList(
    facts.installed.filter((o) => o.kind !== 'Namespace' && GATEWAY_PART_NAMES.has(o.metadata?.name ?? '')),
  );
  const notes = [
    'clusters linked to this one through its gateway lose their tunnels: unlink them there, or link them again with --no-gateway',
  ];
  return { ok: true, objects, notes };
}
