/**
 * Do the local gateways listen on every mirror's egress ports? A mirror's EndpointSlice sends
 * callers to `<gateway pod>:<egress port>`; a gateway that failed to open that listener (a port
 * taken, a watch it lost) leaves the mirror ready on paper and refusing connections. Each ready
 * gateway pod is asked (its admin `/routes`, through the API server's pod proxy), because callers
 * reach every ready pod.
 *
 * A pod also lists the mirror routes it refused (`/routes`, `refused`): a Service labelled as a
 * mirror that claims a port another mirror holds, a gateway its cluster's Link does not name, a port
 * outside the range, a cluster without a Link. Anyone who may create a Service can make such a
 * claim, so each one fails, naming the Service; a mirror whose remote gateway is changing (its last
 * admitted routes still serve) only warns. A mirror of a cluster whose only Link is invalid is
 * refused because of the Link, which is what the hint says to fix.
 */
import { type CheckFacts, type CheckResult, type GatewayListeners, linkLabel } from '../types.js';
import { removedWithLink } from './deleting-links.js';
import { onlyInvalidLink } from './mirrors.js';
import { resultOf, unreadable, withoutGateway } from './result.js';

export const LISTENERS_CHECK = "the gateways listen on every mirror's egress ports";
const WHAT = LISTENERS_CHECK;

export function checkGatewayListeners(facts: CheckFacts): CheckResult {
  const blocked =
    unreadable(WHAT, 'mirror Services', facts.mirrors) ??
    unreadable(WHAT, 'gateway pods', facts.gatewayListeners);
  if (blocked || !facts.mirrors.ok || !facts.gatewayListeners.ok) return blocked!;
  const wanted = new Map<number, string>();
  for (const m of facts.mirrors.value)
    for (const p of m.egressPorts) wanted.set(p, `${m.namespace}/${m.name}`);
  if (!facts.gatewayInstalled) {
    // Only a mirror made while this cluster had a gateway (or by another controller) has ports.
    const stale = [...wanted].slice(0, 5).map(([port, mirror]) => `${mirror} (${port})`);
    return wanted.size === 0
      ? withoutGateway(WHAT)
      : resultOf(WHAT, [
          `this cluster has no gateway (--no-gateway), yet mirrors send callers to egress ports: ${stale.join(', ')}; unlink the Links that have a gatewayAddress, or install a gateway`,
        ]);
  }
  if (wanted.size === 0) return resultOf(WHAT, []);
  // A pod that is not ready (starting, draining) is in no mirror's slice: its listeners do not matter.
  const pods = facts.gatewayListeners.value.filter((p) => p.ready);
  if (pods.length === 0) {
    const none = facts.gatewayListeners.value.length === 0 ? 'running' : 'ready';
    return resultOf(WHAT, [], [`no ${none} isthmus-gateway pod to ask: mirrors have nowhere to go`]);
  }
  const failures: string[] = [];
  const warnings: string[] = [];
  refusals(pods, failures, warnings, (mirror) => whyRefused(facts, mirror));
  for (const pod of pods) {
    if (pod.ports === undefined) {
      warnings.push(`${pod.pod}: cannot read its listeners (/routes on the admin port): ${pod.error ?? ''}`);
      continue;
    }
    const listening = new Set(pod.ports);
    // A port claimed only by a refused Service is reported above, with the reason.
    const refused = new Set((pod.refused ?? []).map((r) => r.mirror));
    const missing = [...wanted].filter(([port, mirror]) => !listening.has(port) && !refused.has(mirror));
    if (missing.length === 0) continue;
    const shown = missing.slice(0, 5).map(([port, mirror]) => `${port} (${mirror})`);
    const more = missing.length > 5 ? ` and ${missing.length - 5} more` : '';
    failures.push(
      `${pod.pod} does not listen on ${shown.join(', ')}${more}: see its log ("egress listeners not fully applied")`,
    );
  }
  return resultOf(WHAT, failures, warnings);
}

/**
 * Why the gateways refuse a mirror (`namespace/name`) when its Link is the cause: the Link is being
 * deleted, so the mirror goes with it (a warning), or its cluster has only an invalid Link, which is
 * what to fix instead.
 */
function whyRefused(facts: CheckFacts, mirror: string): { text: string; warn?: boolean } | undefined {
  if (!facts.mirrors.ok || !facts.links.ok) return undefined;
  const m = facts.mirrors.value.find((x) => `${x.namespace}/${x.name}` === mirror);
  if (m === undefined) return undefined;
  const removed = removedWithLink(facts, m.cluster);
  if (removed) return { text: removed, warn: true };
  const links = facts.links.value.map((l) => l.link);
  const invalid = onlyInvalidLink(links, m.cluster, facts.gatewayInstalled);
  return invalid
    ? {
        text: `the Link ${linkLabel(invalid.link)} to cluster "${m.cluster}" is invalid: fix the Link (see "every Link is valid"); the mirror is the controller's, keep it`,
      }
    : undefined;
}

/** Each refused claim once (every pod refuses it alike), with the pods that refuse it. */
function refusals(
  pods: readonly GatewayListeners[],
  failures: string[],
  warnings: string[],
  linkCause: (mirror: string) => { text: string; warn?: boolean } | undefined,
): void {
  const seen = new Map<string, { mirror: string; kept: boolean; pods: string[] }>();
  for (const pod of pods) {
    for (const r of pod.refused ?? []) {
      const text = `${r.mirror}${r.port === undefined ? '' : ` (egress port ${r.port})`}: ${r.reason}`;
      const entry = seen.get(text) ?? { mirror: r.mirror, kept: r.kept === true, pods: [] };
      entry.pods.push(pod.pod);
      seen.set(text, entry);
    }
  }
  for (const [text, { mirror, kept, pods: by }] of seen) {
    const who = by.length === pods.length ? 'the gateways' : by.join(', ');
    const cause = linkCause(mirror);
    if (kept) warnings.push(`${text} (${who}; until then it is served as before)`);
    else if (cause?.warn) warnings.push(`${text}: ${cause.text}`);
    else
      failures.push(
        `${text}: refused by ${who}; ${cause?.text ?? 'if the controller did not write it for a Link, it is no mirror: delete it'}`,
      );
  }
}
