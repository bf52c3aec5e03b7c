/**
 * The remote API's health as every remote read of a Link sees it, not one informer's: an account
 * that may list services but not endpointslices lists no complete remote, so it is not "available"
 * (it was `Connected` with `Ready=False/Syncing` for ever, and `isthmus_remote_api_up` 1). The API is
 * up only when every source lists and watches; down when one fails, that one's error saying why.
 * Pure decision (`remoteApiHealth`) plus the few lines that keep each source's last report.
 */
import { type RemoteApiReason, remoteApiReason } from './remote-api-failure.js';

/** One remote read: a watch of the Link's (each label-selected Services watch is one), or the identity check. */
export interface RemoteApiSource {
  /** Which watch, unique per RemoteCluster (`exported services`, `endpointslices`, …). */
  name: string;
  /** The resource it reads, as RBAC names it: what a 403 says the account may not read. */
  resource: string;
}

/** A source's last report (none until it has listed or failed once). */
export type SourceHealth = { connected: true } | { connected: false; error: unknown };

export type RemoteApiHealth =
  | { up: true }
  | { up: false; source: RemoteApiSource; error: unknown }
  /** No source fails, and some have not answered yet: nothing to say. */
  | undefined;

/**
 * Which failure is worth saying first: a rejected token (every read fails with it, and only a new
 * token fixes it), then a missing grant (someone must grant it), then an outage (it may pass).
 */
const RANK: Record<RemoteApiReason, number> = { Unauthorized: 0, Forbidden: 1, Unreachable: 2 };

/** `sources` in the order they are named when two fail alike (the first wins a tie). */
export function remoteApiHealth(
  sources: readonly (readonly [RemoteApiSource, SourceHealth | undefined])[],
): RemoteApiHealth {
  let worst: { source: RemoteApiSource; error: unknown; rank: number } | undefined;
  for (const [source, health] of sources) {
    if (!health || health.connected) continue;
    const rank = RANK[remoteApiReason(health.error)];
    if (!worst || rank < worst.rank) worst = { source, error: health.error, rank };
  }
  if (worst) return { up: false, source: worst.source, error: worst.error };
  return sources.every(([, h]) => h?.connected) ? { up: true } : undefined;
}

/**
 * Each source's last report; `report` hears the decided health when it changes (another state, or
 * another source or error named), so a report that changes nothing of it says nothing.
 */
export class RemoteApiSources {
  private readonly last = new Map<RemoteApiSource, SourceHealth | undefined>();
  private said: RemoteApiHealth;

  constructor(
    sources: readonly RemoteApiSource[],
    private readonly report: (health: NonNullable<RemoteApiHealth>) => void,
  ) {
    for (const s of sources) this.last.set(s, undefined);
  }

  set(source: RemoteApiSource, health: SourceHealth): void {
    this.last.set(source, health);
    const now = remoteApiHealth([...this.last]);
    if (!now || sameHealth(now, this.said)) return;
    this.said = now;
    this.report(now);
  }
}

function sameHealth(a: RemoteApiHealth, b: RemoteApiHealth): boolean {
  if (!a || !b || a.up || b.up) return a?.up === b?.up;
  return a.source === b.source && a.error === b.error;
}
