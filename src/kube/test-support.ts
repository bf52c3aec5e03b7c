/** Helpers for this folder's tests: waiting on a condition with a deadline instead of sleeping. */

/** Polls `check` until it returns a truthy value or `timeoutMs` passes; throws with `what` then. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
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
