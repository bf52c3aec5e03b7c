/**
 * What a move from Linkerd multicluster left behind that Isthmus's traffic meets (README, "Moving
 * from Linkerd multicluster"), judged for the checks that own each symptom:
 * - a mirror of a linked cluster that Isthmus did not make (Linkerd's, or labelled by hand) with no
 *   ready endpoint: its callers reach nothing, and Isthmus, which never writes a Service it did not
 *   make, cannot take the name ("every mirror service has endpoints" fails). Once Linkerd's Link
 *   is gone the Link status's advice, "unlink west from Linkerd multicluster first", cannot be
 *   followed, so the hint gives the deletions that let Isthmus take the name;
 * - an EndpointSlice of an Isthmus mirror that another writer made, typically kube's EndpointSlice
 *   mirroring copying a leftover Linkerd Endpoints of the same name: kube-proxy splits the mirror's
 *   traffic between this cluster's gateway and whatever it lists (Linkerd's gateway), so that
 *   fails as well;
 * - a failover TrafficSplit linkerd-failover steers whose backends include an Isthmus mirror:
 *   linkerd-failover decides readiness from core/v1 Endpoints (`ep.subsets.is_some()`), and
 *   Isthmus's mirrors have EndpointSlices only, so it counts them never ready. It fails while a
 *   running linkerd-failover selects the split (the weights it writes are wrong the moment the
 *   primary fails, or at once when the primary is the mirror); a split labelled for another
 *   controller that none running selects only warns, since nothing acts on it yet.
 */
import {
  FAILOVER_CONTROLLED_BY_DEFAULT,
  FAILOVER_CONTROLLED_BY_LABEL,
  FAILOVER_PRIMARY_ANNOTATION,
} from '../../../kube/keys.js';
import type { ServiceMirrorStatus, TrafficSplit } from '../../../kube/types.js';
import { matchesLabels, parseLabelSelector } from '../../../kube/validation/selectors.js';
import {
  type ForeignMirror,
  flagValue,
  type LinkerdFailover,
  type LinkerdLink,
  MANAGED_BY_ENDPOINTS_MIRRORING,
} from '../linkerd-leftovers.js';
import type { CheckFacts } from '../types.js';

export interface Problems {
  failures: string[];
  warnings: string[];
}

/** The deletions that hand a mirror's name to Isthmus: the Endpoints first, or kube mirrors it into Isthmus's slices. */
function handOver(namespace: string, name: string): string {
  return `\`kubectl delete endpoints -n ${namespace} ${name} --ignore-not-found && kubectl delete svc -n ${namespace} ${name}\``;
}

/** Whether Linkerd's service mirror still fills `cluster`'s mirrors: its Link, or why none does, or unknown. */
type LinkerdFills = { live: LinkerdLink } | { gone: string } | { unread: string };

function linkerdFills(facts: CheckFacts, cluster: string): LinkerdFills {
  const links = facts.linkerdLinks;
  if (!links) return { unread: 'not read' };
  if (!links.ok) return { unread: links.error };
  if (links.value === undefined) return { gone: 'Linkerd multicluster is not installed' };
  const live = links.value.find((l) => l.name === cluster || l.cluster === cluster);
  return live ? { live } : { gone: `no links.multicluster.linkerd.io names ${cluster}` };
}

/** The deletions that let Isthmus take a foreign mirror's name, and why in that order. */
function letIsthmusTake(m: ForeignMirror): string {
  return `${handOver(m.namespace, m.name)} let Isthmus take the name (the Endpoints first, or kube's EndpointSlice mirroring copies it into the slices of Isthmus's mirror)`;
}

const holder = (m: ForeignMirror) =>
  `${m.linkerd ? `Linkerd's ${m.headless ? 'headless ' : ''}mirror` : 'a Service labelled by hand as a mirror'} of cluster ${m.cluster}, which Isthmus links, holds the name`;

/** What hands the name over while Linkerd's Link still fills the mirror. */
const finishUnlinking = (m: ForeignMirror) =>
  `finish unlinking ${m.cluster} from Linkerd (README, "Moving from Linkerd multicluster", step 2), then ${handOver(m.namespace, m.name)}`;

/**
 * Mirrors of a linked cluster that Isthmus did not make: without a ready endpoint a failure; with
 * some, but no Linkerd Link left to update them (Linkerd's gateway as Linkerd last wrote it), a
 * warning with the same deletions. A headless one of Linkerd's that its Link still fills lists an
 * address per ready remote pod, whatever the gateway does: none is the remote Service's own state
 * (a scale-down, a failover), which Isthmus's own mirrors only warn of too.
 */
export function foreignMirrorProblems(facts: CheckFacts): Problems {
  const problems: Problems = { failures: [], warnings: [] };
  if (facts.foreignMirrors?.ok === false)
    problems.warnings.push(
      `cannot read the mirror-labelled Services that Isthmus did not make (a leftover of Linkerd may hold a name): ${facts.foreignMirrors.error}`,
    );
  if (!facts.foreignMirrors?.ok || !facts.links.ok) return problems;
  const linked = new Set(facts.links.value.map((l) => l.link.spec?.targetClusterName));
  for (const m of facts.foreignMirrors.value) {
    if (!linked.has(m.cluster)) continue;
    const key = `${m.namespace}/${m.name}`;
    const fills = linkerdFills(facts, m.cluster);
    if (m.readyEndpoints > 0) {
      if (m.linkerd && 'gone' in fills)
        problems.warnings.push(
          `${key}: ${holder(m)} with the ${m.readyEndpoints} endpoint(s) Linkerd last wrote (its gateway), and ${fills.gone}, so nothing updates them: ${letIsthmusTake(m)}`,
        );
      continue;
    }
    if (m.linkerd && m.headless && 'live' in fills) {
      problems.warnings.push(
        `${key}: no ready endpoint: ${holder(m)}, and Linkerd's Link ${fills.live.namespace}/${fills.live.name} still mirrors ${m.cluster}: it lists one address per ready pod of ${m.cluster}'s Service, so none means that Service has no ready pod there (its state, not a gateway's); ${finishUnlinking(m)}`,
      );
      continue;
    }
    const advice =
      'live' in fills
        ? `Linkerd's Link ${fills.live.namespace}/${fills.live.name} still mirrors ${m.cluster} and lists no ready gateway for it: ${finishUnlinking(m)}`
        : 'gone' in fills
          ? `${fills.gone}, so nothing fills it: ${letIsthmusTake(m)}`
          : `cannot read links.multicluster.linkerd.io (${fills.unread}): once no Linkerd Link names ${m.cluster}, ${letIsthmusTake(m)}`;
    problems.failures.push(
      `${key}: no ready endpoint: ${holder(m)}, so Isthmus does not mirror ${m.cluster}'s Service under it and its callers reach nothing; ${advice}`,
    );
  }
  return problems;
}

/**
 * Why a Link's `Conflict` over a name Linkerd's mirror holds cannot be settled as its message says
 * ("unlink <cluster> from Linkerd multicluster first") once no Linkerd Link names the cluster: the
 * mirror that holds it, and why; undefined while Linkerd's Link is there (or unknown) or for
 * another Conflict.
 */
export function conflictWithoutLinkerd(
  facts: CheckFacts,
  cluster: string,
  s: ServiceMirrorStatus,
): { mirror: string; why: string } | undefined {
  if (s.reason !== 'Conflict' || !facts.foreignMirrors?.ok) return undefined;
  const m = facts.foreignMirrors.value.find(
    (f) =>
      f.linkerd && f.cluster === cluster && f.namespace === s.namespace && f.name === `${s.name}-${cluster}`,
  );
  const fills = linkerdFills(facts, cluster);
  return m && 'gone' in fills ? { mirror: `${m.namespace}/${m.name}`, why: fills.gone } : undefined;
}

/** Slices of Isthmus's mirrors that another writer made: failures, each with what removes it. */
export function foreignSliceProblems(facts: CheckFacts): Problems {
  const slices = facts.foreignSlices;
  if (slices?.ok === false)
    return {
      failures: [],
      warnings: [
        `cannot read the EndpointSlices of Isthmus's mirrors that another writer made: ${slices.error}`,
      ],
    };
  const failures = (slices?.value ?? []).map((s) => {
    const head = `${s.namespace}/${s.service}: EndpointSlice ${s.namespace}/${s.name} is not Isthmus's`;
    const traffic = `kube-proxy sends part of the mirror's traffic to ${s.addresses.join(', ') || 'no address yet'} instead of through this cluster's gateway`;
    if (s.managedBy === MANAGED_BY_ENDPOINTS_MIRRORING)
      return `${head}: kube's EndpointSlice mirroring copies it from Endpoints ${s.namespace}/${s.service}, which Isthmus never writes (as a rule Linkerd's, left over from the move), so ${traffic}: \`kubectl delete endpoints -n ${s.namespace} ${s.service}\` (the copy goes with it)`;
    const writer = s.managedBy
      ? `${s.managedBy} writes it`
      : 'it names no endpointslice.kubernetes.io/managed-by';
    return `${head}: ${writer}, so ${traffic}: stop what writes it and \`kubectl delete endpointslice -n ${s.namespace} ${s.name}\``;
  });
  return { failures, warnings: [] };
}

/**
 * The controlled-by value Isthmus's failover controller acts on: its Deployment's flag (or the
 * flag's default); without the Deployment (unread, absent), what the install recorded.
 */
export function isthmusControlledBy(facts: Pick<CheckFacts, 'deployments' | 'recordedControlledBy'>): string {
  const controller = facts.deployments.ok
    ? facts.deployments.value.find((d) => d.name === 'isthmus-controller')
    : undefined;
  const fallback = controller ? undefined : facts.recordedControlledBy;
  return (
    flagValue(controller?.args ?? [], ['--failover-controlled-by']) ??
    fallback ??
    FAILOVER_CONTROLLED_BY_DEFAULT
  );
}

/** Whether linkerd-failover's selector picks the split; a selector it could not parse picks none (it would not start). */
function selects(d: LinkerdFailover, split: TrafficSplit): boolean {
  try {
    return matchesLabels(parseLabelSelector(d.selector), split.metadata?.labels);
  } catch {
    return false;
  }
}

/** What linkerd-failover does to a split with `mirrors` among its backends, counting them never ready. */
function consequence(primary: string, mirrors: string[]): string {
  const never = `it counts ${mirrors.join(', ')} never ready, so`;
  return mirrors.includes(primary)
    ? `${never} it never sends traffic to the primary ${primary}, and sets every weight to 0 when no other backend is ready`
    : `${never} when the primary ${primary} fails it sets every weight to 0 instead of failing over`;
}

/**
 * Failover splits that linkerd-failover steers, or would, with an Isthmus mirror among their
 * backends. A split without `failover.linkerd.io/primary-service` is one linkerd-failover skips.
 */
export function linkerdFailoverProblems(facts: CheckFacts): Problems {
  const problems: Problems = { failures: [], warnings: [] };
  if (facts.labelledSplits?.ok === false)
    problems.warnings.push(
      `cannot read the TrafficSplits labelled for a failover controller (linkerd-failover's among them): ${facts.labelledSplits.error}`,
    );
  if (!facts.labelledSplits?.ok || !facts.mirrors.ok) return problems;
  const mirrors = new Set(facts.mirrors.value.map((m) => `${m.namespace}/${m.name}`));
  const ours = isthmusControlledBy(facts);
  const deployments = facts.linkerdFailover;
  for (const split of facts.labelledSplits.value) {
    const namespace = split.metadata?.namespace ?? '';
    const primary = split.metadata?.annotations?.[FAILOVER_PRIMARY_ANNOTATION];
    const backends = split.spec?.backends?.map((b) => b.service) ?? [];
    const mirrored = backends.filter((b) => mirrors.has(`${namespace}/${b}`));
    if (!primary || mirrored.length === 0) continue;
    const name = `TrafficSplit ${namespace}/${split.metadata?.name}`;
    const value = split.metadata?.labels?.[FAILOVER_CONTROLLED_BY_LABEL] ?? '';
    const isOurs = value === ours;
    const noEndpoints = `which Isthmus's mirror${mirrored.length > 1 ? 's' : ''} ${mirrored.join(', ')} ha${mirrored.length > 1 ? 've' : 's'} none of`;
    const runningOn = (s: TrafficSplit) =>
      deployments?.ok ? deployments.value.filter((d) => d.available > 0 && selects(d, s)) : [];
    const running = runningOn(split);
    const relabel = moveToIsthmus(split, ours, runningOn(relabelled(split, ours)));
    if (running.length > 0) {
      const who = running.map((d) => `${d.namespace}/${d.name}`).join(', ');
      const fix = isOurs
        ? `Isthmus's failover controller acts on it too (controlled-by=${ours}): the two rewrite each other's weights; uninstall linkerd-failover, or give it a --selector that leaves this split out`
        : relabel;
      problems.failures.push(
        `${name}: linkerd-failover (${who}) steers it, and it reads readiness from core/v1 Endpoints, ${noEndpoints}: ${consequence(primary, mirrored)}; ${fix}`,
      );
    } else if (!isOurs) {
      const runs =
        deployments && !deployments.ok
          ? `whether a running linkerd-failover selects it is unknown (cannot read linkerd-failover's Deployments: ${deployments.error})`
          : 'no running linkerd-failover selects it';
      problems.warnings.push(
        `${name}: labelled ${FAILOVER_CONTROLLED_BY_LABEL}=${value}, which Isthmus's failover controller does not act on (it acts on ${ours}), and ${runs}: a linkerd-failover that did would read readiness from core/v1 Endpoints, ${noEndpoints}, so it would count ${mirrored.join(', ')} never ready; ${relabel}`,
      );
    }
  }
  return problems;
}

function relabelled(split: TrafficSplit, value: string): TrafficSplit {
  const labels = { ...split.metadata?.labels, [FAILOVER_CONTROLLED_BY_LABEL]: value };
  return { ...split, metadata: { ...split.metadata, labels } };
}

/**
 * The move of a split to Isthmus's failover controller (`ours`), unless a running linkerd-failover
 * would still select it relabelled (an existence selector, its binary's default, picks any value):
 * then what takes it from linkerd-failover first, and the move is offered once it is done.
 */
function moveToIsthmus(split: TrafficSplit, ours: string, stillSelecting: LinkerdFailover[]): string {
  const namespace = split.metadata?.namespace ?? '';
  if (stillSelecting.length > 0) {
    const who = stillSelecting.map((d) => `${d.namespace}/${d.name}`).join(', ');
    const selectors = [...new Set(stillSelecting.map((d) => d.selector))].join(', ');
    return `relabelling it to Isthmus's value (${FAILOVER_CONTROLLED_BY_LABEL}=${ours}) would not take it from linkerd-failover (${who}), whose selector ${selectors} picks that value too: give linkerd-failover a --selector naming a value other than ${ours} (\`--selector=${FAILOVER_CONTROLLED_BY_LABEL}=<value>\`), or uninstall it; then move the split`;
  }
  return `move the split to Isthmus's failover controller: \`kubectl -n ${namespace} label trafficsplit ${split.metadata?.name} ${FAILOVER_CONTROLLED_BY_LABEL}=${ours} --overwrite\``;
}
