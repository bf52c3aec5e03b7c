/**
 * Are the Isthmus processes running? Linkerd's check starts with its control-plane pods; here the
 * three Deployments of `isthmus install` must each have an available replica (the Deployment
 * controller counts a pod available once Ready for minReadySeconds). Fewer available than wanted
 * still works, so it only warns: a rollout in progress or a pod being rescheduled. Either way the
 * pods not ready follow, each with why and the install flag that fixes it (pod-diagnosis.ts). A
 * Deployment scaled to 0 has no pod to explain: it is said to be scaled to 0, and how to scale it back.
 */

import { podLines } from '../pod-diagnosis.js';
import type { CheckFacts, CheckResult, DeploymentFacts } from '../types.js';
import { resultOf, unreadable } from './result.js';

export const ISTHMUS_DEPLOYMENTS = ['isthmus-identity', 'isthmus-gateway', 'isthmus-controller'] as const;

/** The description of this check, which others point at when one of these Deployments explains them. */
export const DEPLOYMENTS_CHECK = 'the identity, gateway and controller Deployments are available';
/** `isthmus install --no-gateway` runs the controller alone. */
const WHAT_WITHOUT_GATEWAY = 'the controller Deployment is available (no gateway installed)';

const KUBECTL = 'kubectl -n isthmus-system';

/**
 * Why a Deployment runs nothing, in a few words, or undefined when it has an available replica:
 * absent, scaled to 0, or none of its replicas available.
 */
export function notAvailable(d: DeploymentFacts | undefined): string | undefined {
  if (!d) return 'does not exist';
  if (d.replicas === 0) return 'is scaled to 0';
  if (d.available === 0) return 'has no available replica';
  return undefined;
}

export function checkDeployments(facts: CheckFacts): CheckResult {
  const what = facts.gatewayInstalled ? DEPLOYMENTS_CHECK : WHAT_WITHOUT_GATEWAY;
  const blocked = unreadable(what, 'Deployments in isthmus-system', facts.deployments);
  if (blocked || !facts.deployments.ok) return blocked!;
  const failures: string[] = [];
  const warnings: string[] = [];
  const wanted = facts.gatewayInstalled ? ISTHMUS_DEPLOYMENTS : (['isthmus-controller'] as const);
  for (const name of wanted) {
    const d = facts.deployments.value.find((x) => x.name === name);
    const look = `see \`${KUBECTL} describe deployment/${name}\` and its pods' logs`;
    if (!d)
      failures.push(`Deployment ${name} does not exist: run \`isthmus install ... | kubectl apply -f -\``);
    else if (d.replicas === 0)
      // No pod to look at: someone scaled it down (kubectl scale, an autoscaler, a drained cluster).
      failures.push(
        `Deployment ${name} is scaled to 0 (spec.replicas 0), so nothing runs it: scale it back with \`${KUBECTL} scale deployment/${name} --replicas=1\`, or re-apply the install's own replica count with \`isthmus upgrade | kubectl apply -f -\``,
      );
    else if (d.available === 0)
      failures.push(`Deployment ${name} ${notAvailable(d)} (0/${d.replicas}); ${look}`, ...pods(d));
    else if (d.available < d.replicas)
      warnings.push(
        `Deployment ${name} has ${d.available}/${d.replicas} replicas available; ${look}`,
        ...pods(d),
      );
  }
  return resultOf(what, failures, warnings);
}

const pods = (d: DeploymentFacts) => (d.pods ? podLines(d.pods) : []);
