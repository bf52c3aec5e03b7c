/**
 * `isthmus status`: one row per TrafficSplit the controller handles, as
 * linkerd-failover's status view shows it (NAMESPACE, TRAFFIC_SPLIT, STATUS, ACTIVE_BACKENDS).
 */
import type { KubeClient } from '../kube/client.js';
import { FAILOVER_CONTROLLED_BY_DEFAULT, FAILOVER_CONTROLLED_BY_LABEL } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { TrafficSplit } from '../kube/types.js';
import { plainTable } from '../plain-table.js';
import { parseSplit, parseWeight } from './parse-split.js';
import { isSteerOnly, STEER_LABEL, splitMode } from './split-selection.js';
import { APEX_LOST_REASONS, shownReason } from './split-status.js';

export interface FailoverStatusRow {
  namespace: string;
  trafficSplit: string;
  /**
   * The mode, `Primary`, `Fallback`, `NothingReady` or `Weighted` (steer-only split), or, for a
   * split whose mode is not where traffic goes, the reason (shownReason): the parse reason of an
   * Invalid split (`UnknownPrimary`…), `ApexNotFound`, `ApexConflict`, `NoWeight`.
   */
  status: string;
  /**
   * Where traffic goes (`status.activeBackends`): the backends with weight and a ready endpoint,
   * which callers in a mesh follow, plus any the apex's own endpoints reach without weight, which
   * callers without one do (an apex with a selector during a restore-after wait, or while every
   * weight is 0, or the split is Invalid); none in NothingReady, ApexNotFound and ApexConflict.
   */
  activeBackends: string[];
}

/** A row from the split alone: its status when the controller wrote one, else its weights. */
export function statusRow(split: TrafficSplit): FailoverStatusRow {
  const namespace = split.metadata?.namespace ?? '';
  const trafficSplit = split.metadata?.name ?? '';
  const weighted = (split.spec?.backends ?? [])
    .filter((b) => (parseWeight(b.weight) ?? 0) > 0)
    .map((b) => b.service);
  if (split.status?.state) {
    const conditions = (split.status.conditions ?? []).map((c) => ({ ...c, status: c.status === 'True' }));
    const reason = shownReason(conditions);
    // NothingReady, or an apex that is gone or another split's: no backend carries traffic through
    // this split, whatever an earlier controller listed (the backends that kept their weight).
    const nothing = split.status.state === 'NothingReady' || APEX_LOST_REASONS.includes(reason ?? '');
    return {
      namespace,
      trafficSplit,
      status: reason ?? split.status.state,
      activeBackends: nothing ? [] : (split.status.activeBackends ?? weighted),
    };
  }
  const parsed = parseSplit(split);
  if (!parsed.ok) return { namespace, trafficSplit, status: parsed.reason, activeBackends: [] };
  // A steer-only split's weights are the user's: never a failover, whatever backend they favour.
  const onPrimary = weighted.length === 1 && weighted[0] === parsed.split.primary;
  const steered = weighted.length > 0 ? 'Weighted' : 'NoWeight';
  const status = isSteerOnly(split) ? steered : onPrimary ? 'Primary' : 'Fallback';
  return { namespace, trafficSplit, status, activeBackends: weighted };
}

export async function failoverStatusRows(
  client: KubeClient,
  opts: { namespace?: string; controlledBy?: string } = {},
): Promise<FailoverStatusRow[]> {
  const controlledBy = opts.controlledBy ?? FAILOVER_CONTROLLED_BY_DEFAULT;
  const listOpts = opts.namespace ? { namespace: opts.namespace } : {};
  const { items } = await client.list<TrafficSplit>(R.trafficSplitsV1alpha2, listOpts);
  return items
    .filter((s) => splitMode(s, controlledBy) !== null)
    .map(statusRow)
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.trafficSplit.localeCompare(b.trafficSplit));
}

export function renderStatusTable(
  rows: readonly FailoverStatusRow[],
  controlledBy = FAILOVER_CONTROLLED_BY_DEFAULT,
): string {
  if (rows.length === 0) {
    return `No TrafficSplits for the failover controller: none labelled ${FAILOVER_CONTROLLED_BY_LABEL}=${controlledBy} or ${STEER_LABEL}=true.\n`;
  }
  return plainTable(
    ['NAMESPACE', 'TRAFFIC_SPLIT', 'STATUS', 'ACTIVE_BACKENDS'],
    rows.map((r) => [r.namespace, r.trafficSplit, r.status, r.activeBackends.join(',') || '-']),
  );
}
