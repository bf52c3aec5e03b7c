/**
 * Link-level checks from what the mirror controller reports in each Link's status
 * (src/mirror/link-status.ts: Ready/LinkInvalid, per-service reasons) plus our own reading of the
 * spec, so an invalid Link is caught even when no controller has looked at it yet. While no
 * controller leads, the controller's verdicts are the last leader's (the Link may be fixed since):
 * warnings that say so; our own reading of the spec still fails.
 */

import type { Link } from '../../../kube/types.js';
import {
  GATEWAY_REFUSES_NOTE,
  parseLinkSpec,
  selectorsTheGatewayRefuses,
} from '../../../mirror/link-config.js';
import { type CheckFacts, type CheckResult, condition, linkLabel, rejectedByController } from '../types.js';
import { allowListWarnings } from './allowed-clusters.js';
import { deletingLinkLines } from './deleting-links.js';
import { conflictWithoutLinkerd } from './linkerd-leftovers.js';
import { ENDPOINTS } from './mirrors.js';
import { resultOf, unreadable } from './result.js';
import { staleHint, staleLinkStatus } from './stale-status.js';

const VALID = 'every Link is valid';
/** The controller's Ready reason when the credentials reach a cluster installed under another name. */
const REMOTE_CLUSTER_MISMATCH = 'RemoteClusterMismatch';
/** …and when the remote, which named a cluster on that connection, cannot say any more. */
const REMOTE_CLUSTER_UNCONFIRMED = 'RemoteClusterUnconfirmed';
const EXPORTS = 'every exported service is mirrored';
/** The controller's condition on whether a Link's Services are mirrored, and its reason when none is. */
const SERVICES_MIRRORED = 'ServicesMirrored';
const NONE_MIRRORED = 'NoneMirrored';
/** …and its reason while removals of mirrors a shrunk remote list lacks are held (src/mirror/deletion-hold.ts). */
const REMOTE_LIST_SHRUNK = 'RemoteListShrunk';

export function checkLinksValid(facts: CheckFacts): CheckResult {
  const blocked = unreadable(VALID, 'Links', facts.links);
  if (blocked || !facts.links.ok) return blocked!;
  const failures: string[] = [];
  const warnings: string[] = [];
  // With no controller leading, its verdicts are the last leader's: the spec may be fixed since.
  const stale = staleLinkStatus(facts);
  for (const { link } of facts.links.value) {
    const name = linkLabel(link);
    const verdicts = stale ? warnings : failures;
    const staleNote = stale ? `; ${staleHint('this verdict (its Ready condition)', stale)}` : '';
    const parsed = parseLinkSpec(link, {
      localGateway: facts.gatewayInstalled,
      ...(facts.localCluster ? { localCluster: facts.localCluster } : {}),
    });
    const ready = condition(link, 'Ready');
    if (!parsed.ok) {
      failures.push(`Link ${name}: invalid spec: ${parsed.reason}; fix it and re-apply`);
    } else if (rejectedByController(link)) {
      verdicts.push(`Link ${name}: the controller rejects it: ${ready?.message ?? ''}${staleNote}`);
    } else if (ready?.status === 'False' && ready.reason === REMOTE_CLUSTER_MISMATCH) {
      verdicts.push(mismatchHint(name, parsed.config.clusterName, link, ready.message ?? '') + staleNote);
    } else if (ready?.status === 'False' && ready.reason === REMOTE_CLUSTER_UNCONFIRMED) {
      // Its message names the fixes already (the label, namespace or permission, or the address).
      verdicts.push(`Link ${name}: ${ready.message ?? REMOTE_CLUSTER_UNCONFIRMED}${staleNote}`);
    } else if (!ready) {
      warnings.push(`Link ${name}: no status yet: is isthmus-controller running?`);
    }
    for (const ignored of parsed.ok ? parsed.config.ignoredExclusions : []) {
      warnings.push(`Link ${name}: ${ignored}; it is ignored (it excludes nothing): fix or remove it`);
    }
    for (const field of parsed.ok ? selectorsTheGatewayRefuses(parsed.config) : []) {
      warnings.push(`Link ${name}: its ${field} ${GATEWAY_REFUSES_NOTE}`);
    }
    const grant = facts.controllerMayCreateNamespaces;
    if (parsed.ok && parsed.config.enableNamespaceCreation && grant.ok && !grant.value) {
      failures.push(
        `Link ${name}: enableNamespaceCreation is set, but isthmus-controller may not create namespaces: re-install with \`isthmus install --enable-namespace-creation\``,
      );
    }
  }
  const deleting = deletingLinkLines(facts);
  return resultOf(VALID, [...failures, ...deleting.failures], [...warnings, ...deleting.warnings]);
}

/**
 * The credentials reach another cluster (src/mirror/remote-identity.ts): the controller mirrors
 * nothing of it and keeps its mirrors as they are. Either side may be the wrong one.
 */
function mismatchHint(name: string, cluster: string, link: Link, message: string): string {
  const secret = `${link.metadata?.namespace ?? ''}/${link.spec?.clusterCredentialsSecret ?? ''}`;
  return (
    `Link ${name}: ${message}. If the Link names the right cluster, the Secret is another cluster's: ` +
    `re-create ${secret} with \`isthmus link --context <${cluster}> --cluster-name ${cluster} <the Link's other flags> | kubectl apply -f -\`; ` +
    `if the Secret reaches the right cluster, set spec.targetClusterName to the name it was installed with`
  );
}

/**
 * Services a Link selects but could not mirror: each one the status lists (MissingNamespace,
 * Conflict, ...), with the controller's message, which says what to do; a failure when the
 * controller's ServicesMirrored condition (src/mirror/services-mirrored.ts) says none of them can
 * be mirrored (the Link serves nothing), else a warning. The condition names the first few failing
 * Services too: its own line only when the status lists none of them, so that one fact is one line.
 * A hold of the deletions a shrunk remote list would make (RemoteListShrunk) is a warning of its own:
 * every mirror is still there, and goes when the hold ends unless the remote lists it again; a
 * failure too when nothing is mirrored and some Service fails for another reason.
 * With no controller leading, the status is the last leader's: said first, and all of it a warning.
 */
export function checkExportsMirrored(facts: CheckFacts): CheckResult {
  const blocked = unreadable(EXPORTS, 'Links', facts.links);
  if (blocked || !facts.links.ok) return blocked!;
  const failures: string[] = [];
  const warnings: string[] = [];
  const stale = staleLinkStatus(facts);
  const staleLines: string[] = [];
  for (const { link } of facts.links.value) {
    if (stale)
      staleLines.push(
        `Link ${linkLabel(link)}: ${staleHint(`its mirroring status (${SERVICES_MIRRORED}, status.services)`, stale)}`,
      );
    const mirrored = condition(link, SERVICES_MIRRORED);
    const failed = mirrored?.status === 'False';
    const none = failed && mirrored.reason === NONE_MIRRORED;
    // NotAllowed is the export's owner's choice (isthmus.dev/allowed-clusters), not a fault.
    const notMirrored = (link.status?.services ?? []).filter(
      (s) => s.reason !== 'Mirrored' && s.reason !== 'NotAllowed',
    );
    // `ns/name (Reason)`, as the condition's message names a Service (services-mirrored.ts).
    const named = notMirrored.some((s) =>
      mirrored?.message?.includes(`${s.namespace}/${s.name} (${s.reason})`),
    );
    if (failed && mirrored.reason === REMOTE_LIST_SHRUNK) {
      // The held mirrors are still there: what to know is that they go when the hold ends. One that
      // serves nothing all the same (none mirrored, some failing) is the failure NoneMirrored is.
      if (link.status?.mirroredServices === 0 && notMirrored.length > 0)
        failures.push(
          `Link ${linkLabel(link)}: none of the Services it picks is mirrored (${SERVICES_MIRRORED}=False), so it serves nothing; each Service's reason follows`,
        );
      warnings.push(
        `Link ${linkLabel(link)}: the deletion of mirrors its remote no longer lists is held (${SERVICES_MIRRORED}=False, ${REMOTE_LIST_SHRUNK}): ${mirrored.message ?? ''}. If the remote cluster's API server was restored or is being restored, restore its Services before then; if they were deleted, nothing to do`,
      );
    } else if (failed && !named) {
      const what = none ? 'none of the Services it picks is' : 'some of the Services it picks are not';
      (none ? failures : warnings).push(
        `Link ${linkLabel(link)}: ${what} mirrored (${SERVICES_MIRRORED}=False): ${mirrored.message ?? ''}`,
      );
    } else if (none) {
      // The Services are on their own lines; that the Link serves nothing is a fact of its own.
      failures.push(
        `Link ${linkLabel(link)}: none of the Services it picks is mirrored (${SERVICES_MIRRORED}=False), so it serves nothing; each Service's reason follows`,
      );
    }
    for (const s of notMirrored) {
      const why = s.message ? `${s.reason}: ${s.message}` : s.reason;
      // The controller's advice to unlink from Linkerd first, once Linkerd's Link is gone.
      const stuck = conflictWithoutLinkerd(facts, link.spec?.targetClusterName ?? '', s);
      const after = stuck
        ? `; ${stuck.why}, so there is nothing of Linkerd to unlink: "${ENDPOINTS}" gives the commands that let Isthmus take ${stuck.mirror}`
        : '';
      warnings.push(`Link ${linkLabel(link)}: ${s.namespace}/${s.name} is not mirrored (${why})${after}`);
    }
    // The status names the first MAX_LISTED_SERVICES (link-status.ts), faults first, and counts
    // the rest, NotAllowed apart.
    const status = link.status;
    const listed = status?.services?.length ?? 0;
    const listedFaults = notMirrored.length;
    const faults =
      status?.servicesNotMirrored === undefined
        ? listedFaults
        : status.servicesNotMirrored - (status.servicesNotAllowed ?? 0);
    const more = faults - listedFaults;
    if (more > 0) {
      warnings.push(
        `Link ${linkLabel(link)}: ${more} more services are not mirrored (the Link's status names the first ${listed}; \`kubectl describe link ${link.metadata?.name ?? ''} -n ${link.metadata?.namespace ?? ''}\` shows the controller's Warning events)`,
      );
    }
  }
  // The exports here whose allow-list matches no cluster: this cluster's own facts, never stale.
  const allowLists = allowListWarnings(facts);
  // No controller leads: what follows is as the last leader saw it, a warning whatever it says.
  if (stale) return resultOf(EXPORTS, [], [...staleLines, ...failures, ...warnings, ...allowLists]);
  return resultOf(EXPORTS, failures, [...warnings, ...allowLists]);
}
