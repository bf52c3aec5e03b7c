/**
 * The first thing `isthmus check` asks, as `linkerd check` does with "can query the Kubernetes
 * API": with no API server to answer, every other check would fail with the same connection error,
 * so it is the only result then.
 */
import { describeError } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { resultOf } from './checks/result.js';
import type { CheckResult } from './types.js';

export async function apiUnreachable(client: KubeClient): Promise<CheckResult | undefined> {
  try {
    await client.version();
    return undefined;
  } catch (err) {
    return resultOf('can query the Kubernetes API', [
      `${client.server}: ${describeError(err)}; check --context and --kubeconfig, and that the API server runs`,
    ]);
  }
}
