/**
 * The strict sandbox API server the controller tests (failover, federation) run against: one per
 * file (or per describe block), a namespace per test.
 */
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { R } from '../kube/resources.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';

export interface ControllerSandbox {
  sandbox: Sandbox;
  /**
   * The test's own reads and writes, not rate-limited: its polling (every 20 ms in each waitFor)
   * would otherwise drain the 50 qps bucket it shares with the controller, and every later test
   * would run at the throttled rate.
   */
  client: KubeClient;
  /**
   * What the controller (and its shared informers) talks through, at the production rate limit:
   * one per test, as a controller process has its own, so no test inherits an earlier one's spent
   * bucket.
   */
  controllerClient: KubeClient;
  /** The test's namespace, `<nsPrefix>-<n>`, created before it runs. */
  ns: string;
  /** A metrics registry of the test's own. */
  registry: Registry;
}

/**
 * Starts the sandbox (named east) before the tests of this scope and closes it after them; before
 * each test, creates its namespace, registry and controller client, and hands all of them to `use`
 * (which assigns the test file's variables, and forgets the last test's controller); after each test,
 * runs `stopEach` (stopping what runs on the controller client), then closes that client.
 */
export function controllerSandbox(opts: {
  nsPrefix: string;
  use: (s: ControllerSandbox) => void;
  stopEach: () => Promise<unknown> | undefined;
  /** False: the sandbox starts without the CRDs it loads by default (startSandbox's loadCrds). */
  loadCrds?: boolean;
  /** Run once the sandbox is up, with the test client (e.g. to install a CRD of one's own). */
  prepare?: (client: KubeClient) => Promise<void>;
}): void {
  let sandbox: Sandbox | undefined;
  let client: KubeClient | undefined;
  let controllerClient: KubeClient | undefined;
  let nsCounter = 0;
  beforeAll(async () => {
    sandbox = await startSandbox({
      name: 'east',
      ...(opts.loadCrds === undefined ? {} : { loadCrds: opts.loadCrds }),
    });
    client = KubeClient.fromKubeconfigString(sandbox.kubeconfig(), undefined, {
      rateLimit: { qps: 0, burst: 0 },
    });
    await opts.prepare?.(client);
  });
  afterAll(async () => {
    client?.close();
    await sandbox?.close();
  });
  beforeEach(async () => {
    const ns = `${opts.nsPrefix}-${++nsCounter}`;
    controllerClient = KubeClient.fromKubeconfigString(sandbox!.kubeconfig());
    opts.use({ sandbox: sandbox!, client: client!, controllerClient, ns, registry: new Registry() });
    await client!.create(R.namespaces, { metadata: { name: ns } });
  });
  afterEach(async () => {
    await opts.stopEach();
    controllerClient?.close();
  });
}
