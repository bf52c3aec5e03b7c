/** Remote gateways alive, as the controller's probes see them (the Link's GatewayAlive condition). */
import { hostPort } from '../../../host-port.js';
import { parseLinkSpec } from '../../../mirror/link-config.js';
import {
  type CheckFacts,
  type CheckResult,
  condition,
  followedGatewayHosts,
  linkLabel,
  rejectedByController,
} from '../types.js';
import { resultOf, unreadable } from './result.js';

const WHAT = 'remote gateways are alive';

export function checkGatewaysAlive(facts: CheckFacts): CheckResult {
  const blocked = unreadable(WHAT, 'Links', facts.links);
  if (blocked || !facts.links.ok) return blocked!;
  const failures: string[] = [];
  const warnings: string[] = [];
  let probed = 0;
  for (const { link } of facts.links.value) {
    const parsed = parseLinkSpec(link, { localGateway: facts.gatewayInstalled });
    // Invalid (to us or to the controller, e.g. a second Link to one cluster): reported by "every
    // Link is valid", never probed. No gateway: nothing to probe.
    if (!parsed.ok || rejectedByController(link) || !parsed.config.hasGateway) continue;
    probed++;
    const name = linkLabel(link);
    const gw = followedGatewayHosts(link)
      .map((a) => hostPort(a, link.spec.gatewayPort ?? 4143))
      .join(', ');
    const alive = condition(link, 'GatewayAlive');
    if (alive?.status === 'True') continue;
    if (alive?.status === 'False') {
      failures.push(
        `Link ${name}: gateway ${gw} is not alive (${withoutAddress(alive.message) || alive.reason}); check that the ${name} gateway runs and that this cluster's gateway can reach its port`,
      );
    } else {
      warnings.push(`Link ${name}: gateway ${gw} not probed yet; run the check again in a few seconds`);
    }
  }
  // Links without a gateway (a flat pod network) have nothing to probe: say so rather than tick it.
  if (probed === 0 && facts.links.value.length > 0) return resultOf(`${WHAT}: no Link has a gateway`, []);
  return resultOf(WHAT, failures, warnings);
}

/** The probe's message names the gateway too (`gateway a:4143 unreachable: …`): once is enough. */
const withoutAddress = (message: string | undefined) => message?.replace(/^gateway \S+ /, '');
