import { afterAll, afterEach, beforeAll } from 'vitest';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import { type Cluster, namespace, startCluster } from '../e2e/fixtures.js';
import { echo, startTcpBackend, type TcpBackend } from './backends.js';
import { makePki, type TestPki } from './pki.js';

/**
 * A test file's shared PKI (made once: RSA keys are slow, and handed to `use` if given) and its
 * per-test clean-ups, run in reverse order after each test; `echoBackend()` starts an echo backend
 * closed by them.
 */
export function dataPathLifecycle(use?: (pki: TestPki) => void): {
  pki: () => TestPki;
  cleanups: Array<() => Promise<void> | void>;
  echoBackend: () => Promise<TcpBackend>;
} {
  let pki: TestPki | undefined;
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeAll(() => {
    pki = makePki();
    use?.(pki);
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    pki: () => {
      if (!pki) throw new Error('the PKI is made in beforeAll');
      return pki;
    },
    cleanups,
    echoBackend: async () => {
      const b = await startTcpBackend(echo);
      cleanups.push(() => b.close());
      return b;
    },
  };
}

/**
 * A test file's (or describe's) sandbox cluster for whole gateways, with the system namespace (its
 * Links live there), started before its tests and closed with its certificate files after them.
 */
export function gatewayClusterLifecycle(name: 'east' | 'west'): () => Cluster {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster(name);
    await cluster.kube.create(R.namespaces, namespace(SYSTEM_NAMESPACE));
  });
  afterAll(async () => {
    cluster?.kube.close();
    await cluster?.sandbox.close();
    await cluster?.certs.remove();
  });
  return () => {
    if (!cluster) throw new Error('the cluster is started in beforeAll');
    return cluster;
  };
}
