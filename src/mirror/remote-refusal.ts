/**
 * What the remote's answer about its cluster name means for a Link (remote-identity.ts,
 * identity-gate.ts): whether nothing of it may be listed (a refusal, with the Link's condition
 * reason and message), and what the watcher does about an answer: start over, mark the remote API
 * down, say so. Pure: the watcher passes what it knows and does what the plan says.
 */
import { mismatchMessage, type RemoteIdentity, unconfirmedMessage } from './remote-identity.js';

/**
 * The Link's reasons for listing nothing of the remote (link-status.ts): the credentials reach a
 * cluster installed under another name, or one that said a name on this connection and cannot now.
 */
export type RemoteRefusal = 'RemoteClusterMismatch' | 'RemoteClusterUnconfirmed';

export interface Refusal {
  reason: RemoteRefusal;
  message: string;
}

/** What the messages name: the Link's cluster, the API server reached, the Secret (`namespace/name`). */
export interface RefusalNames {
  cluster: string;
  server: string;
  secret: string;
}

/** The Link's condition reason and message for an answer that lets nothing be listed, else undefined. */
export function refusalOf(identity: RemoteIdentity, names: RefusalNames): Refusal | undefined {
  if (identity.verdict === 'mismatch')
    return {
      reason: 'RemoteClusterMismatch',
      message: mismatchMessage({ ...names, installed: identity.installed }),
    };
  if (identity.verdict === 'unconfirmed')
    return {
      reason: 'RemoteClusterUnconfirmed',
      message: unconfirmedMessage({ ...names, why: identity.why, before: identity.before }),
    };
  return undefined;
}

export type IdentityPlan =
  | {
      kind: 'refused';
      refusal: Refusal;
      /**
       * Refused by a re-check after the caches had listed: nothing of them is believed now, so the
       * connection starts over, listing nothing until the remote agrees (mirrors stay as they are).
       */
      restart: boolean;
      /** The remote API counts as down (status, isthmus_remote_api_up 0): not already so for this refusal. */
      markDown: boolean;
      /** A new refusal (reason or message): said once, as a Warning log line and Event. */
      announce: boolean;
    }
  | {
      kind: 'accepted';
      /** The remote could not say (forbidden): targetClusterName was not checked, which is logged. */
      unchecked: boolean;
      /** A refusal ends: mirroring again, which is logged. */
      mirroringAgain: boolean;
    };

/**
 * `before`: the refusal in force; `remoteApiUp`: as last set. A re-check of the same refusal
 * (remote-cluster.ts asks again with backoff) changes nothing once the API counts as down.
 */
export function planIdentity(
  identity: RemoteIdentity,
  names: RefusalNames,
  state: { before: Refusal | undefined; remoteSynced: boolean; remoteApiUp: boolean | undefined },
): IdentityPlan {
  const refusal = refusalOf(identity, names);
  if (!refusal)
    return {
      kind: 'accepted',
      unchecked: identity.verdict === 'unknown' && identity.why === 'forbidden',
      mirroringAgain: state.before !== undefined,
    };
  const same = refusal.reason === state.before?.reason && refusal.message === state.before.message;
  return {
    kind: 'refused',
    refusal,
    restart: state.remoteSynced,
    markDown: !(same && state.remoteApiUp === false),
    announce: !same,
  };
}
