/**
 * Helpers for the tests of this folder and of the controllers (mirror, failover, federation):
 * waiting on a condition, or on a promise, with a deadline instead of sleeping or hanging.
 */

export { waitFor } from '../wait-for.js';

/** How long a test lets an in-process informer take to list: generous, for a loaded CI machine. */
export const SYNC_DEADLINE_MS = 20_000;

/**
 * Settles as `promise` does, or rejects once `ms` have passed, naming `what`: a promise that never
 * settles fails the test with a message instead of running into the test timeout.
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeUp]).finally(() => clearTimeout(timer));
}

/**
 * Waits for an informer (or a controller) to sync, at most `ms`. Returns it, so that
 * `await synced(start(), 'the controller')` reads like the bare `await start().synced` it replaces.
 */
export async function synced<T extends { readonly synced: Promise<unknown> }>(
  syncing: T,
  what: string,
  ms = SYNC_DEADLINE_MS,
): Promise<T> {
  await within(syncing.synced, ms, `${what} to sync`);
  return syncing;
}

/** A Service with realistic fields; tests vary the name and labels. */
export function service(namespace: string, name: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace, name, labels },
    spec: { ports: [{ name: 'http', port: 9898, targetPort: 9898 }], selector: { app: name } },
  };
}
