/** Helpers for this folder's tests: waiting on a condition with a deadline instead of sleeping. */

export { waitFor } from '../wait-for.js';

/** A Service with realistic fields; tests vary the name and labels. */
export function service(namespace: string, name: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace, name, labels },
    spec: { ports: [{ name: 'http', port: 9898, targetPort: 9898 }], selector: { app: name } },
  };
}
