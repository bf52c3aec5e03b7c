/**
 * What the credentials Secret's content decides for a Link's connection: whether a read of it
 * means a new connection, what a new connection carries over from the last, and when an unusable
 * Secret is worth saying. Pure: the watcher reads the Secret and keeps the state.
 */
import { CREDENTIALS_KEPT } from './link-status.js';
import type { NamedIdentity } from './remote-identity.js';

/** The last answer of the remote that named a cluster, and the credentials it was heard with. */
export interface Said {
  fingerprint: string;
  identity: NamedIdentity;
}

/**
 * Whether the Secret read (`fingerprint`: credentials-watch.ts `credentialsFingerprint`) asks for a
 * new connection: none runs, or the running one was made from other content (`connectedWith`).
 */
export function needsReconnect(
  connected: boolean,
  connectedWith: string | undefined,
  fingerprint: string,
): boolean {
  return !connected || fingerprint !== connectedWith;
}

/**
 * What a connection made with `fingerprint` keeps of what was heard before: the identity said on
 * the same credentials, so a connection started over (after a refusal, a Link edit) refuses a
 * remote that cannot say, as the one before would have. New credentials are checked afresh.
 */
export function carriedIdentity(said: Said | undefined, fingerprint: string): Said | undefined {
  return said?.fingerprint === fingerprint ? said : undefined;
}

/**
 * The credentials could not be read or used (`message`), `before`: the error already reported.
 * Said once per message: `changed` updates the status; with a working connection kept, it is a
 * Warning too (log and Event, `warning`), since the Link goes on working until a restart; without,
 * the queue reports the failed connect.
 */
export function credentialsNotice(
  before: string | undefined,
  message: string,
  connected: boolean,
): { changed: boolean; warning?: string } {
  if (message === before) return { changed: false };
  return connected ? { changed: true, warning: `${message}: ${CREDENTIALS_KEPT}` } : { changed: true };
}
