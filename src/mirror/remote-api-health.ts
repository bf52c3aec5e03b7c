/**
 * When a change of the remote API's reachability is worth a log line: once when it becomes
 * unreachable (a Warning, with why), once when it is reachable again (Info, with for how long it
 * was not). The retries in between say nothing. Pure: the watcher keeps `since` and passes the clock.
 */

export type RemoteApiNotice = { kind: 'unreachable' } | { kind: 'reachable'; downSeconds: number };

/**
 * `since`: when the API was last found unreachable (ms), undefined while it answers. Returns the
 * new `since` and what to log, if anything. `downSeconds` is rounded to tenths.
 */
export function remoteApiChange(
  since: number | undefined,
  up: boolean,
  now: number,
): { since: number | undefined; notice?: RemoteApiNotice } {
  if (!up && since === undefined) return { since: now, notice: { kind: 'unreachable' } };
  if (up && since !== undefined)
    return {
      since: undefined,
      notice: { kind: 'reachable', downSeconds: Math.round((now - since) / 100) / 10 },
    };
  return { since };
}
