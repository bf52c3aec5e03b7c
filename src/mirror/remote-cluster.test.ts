import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_BACKOFF } from '../kube/backoff.js';
import { KubeClient } from '../kube/client.js';
import {
  EXPORTED_LABEL,
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
  INSTALL_CLUSTER_NAME_LABEL,
  REMOTE_DISCOVERY_EXPORT,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { classify, RemoteCluster, type RemoteClusterEvents } from './remote-cluster.js';
import type { RemoteIdentity } from './remote-identity.js';
import type { SharedLocal } from './shared.js';
import { linkConfig } from './test-builders.js';
import { addReaderToken, type Cluster, exportService, installedAs, waitFor } from './test-harness.js';

const withGateway = linkConfig('west');
const withoutGateway = linkConfig('west', { gatewayAddress: undefined });
const exported = { [EXPORTED_LABEL]: 'true' };
const member = { [FEDERATED_LABEL]: FEDERATED_MEMBER };
const discovery = { [EXPORTED_LABEL]: REMOTE_DISCOVERY_EXPORT };

describe('classify', () => {
  it.each([
    ['exported', withGateway, exported, 'gateway'],
    ['a federated member', withGateway, member, 'gateway'],
    ['exported and a member', withGateway, { ...exported, ...member }, 'gateway'],
    ['remote discovery', withGateway, discovery, 'remote-discovery'],
    ['a member, on a Link without a gateway', withoutGateway, member, 'remote-discovery'],
    [
      'a member in remote discovery too: the tunnel wins',
      withGateway,
      { ...discovery, ...member },
      'gateway',
    ],
    ['picked by no selector', withGateway, { app: 'web' }, undefined],
  ])('%s → %s', (_name, config, labels, mode) => {
    const service = { metadata: { name: 'web', namespace: 'default', labels } };
    expect(classify(service, config)?.mode).toBe(mode);
  });
});

describe('a remote refused for not saying its name', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  // What heals a Link whose remote lost its label and got it back, without a restart: the refused
  // connection asks again on its own, with the remote backoff, never more than its cap apart.
  it('is asked again at most DEFAULT_BACKOFF.maxMs apart (production timing), and believed once it says the name again', async () => {
    vi.useFakeTimers();
    // The longest delays full jitter can draw.
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    let label: string | undefined;
    const asked: number[] = [];
    const client = {
      closed: false,
      get: async () => {
        asked.push(Date.now());
        return {
          metadata: { name: SYSTEM_NAMESPACE, labels: label ? { [INSTALL_CLUSTER_NAME_LABEL]: label } : {} },
        };
      },
      close() {},
    } as unknown as KubeClient;
    const answers: RemoteIdentity[] = [];
    const events: RemoteClusterEvents = {
      changed() {},
      exported() {},
      synced() {},
      health() {},
      gatewayAddresses() {},
      identity: (identity) => {
        answers.push(identity);
        // Believed: nothing more to show here, so no informer is started.
        if (identity.verdict === 'confirmed') void remote.stop();
      },
    };
    const shared = { resolveIntervalMs: 60_000 } as SharedLocal;
    const remote = new RemoteCluster(client, withoutGateway, shared, events, {
      before: { verdict: 'confirmed' },
    });
    remote.start();

    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(answers).toEqual([
      { verdict: 'unconfirmed', why: 'unlabelled', before: { verdict: 'confirmed' } },
    ]);
    const gaps = asked.slice(1).map((t, i) => t - asked[i]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(DEFAULT_BACKOFF.maxMs);
    // Backing off: about one question per cap once there (the first ones come sooner).
    expect(asked.length).toBeGreaterThanOrEqual(20);
    expect(asked.length).toBeLessThanOrEqual(30);

    label = 'west';
    await vi.advanceTimersByTimeAsync(DEFAULT_BACKOFF.maxMs);
    expect(answers.at(-1)).toEqual({ verdict: 'confirmed' });
  });
});

describe('a re-list lacking a slice of a Service the Link does not mirror', () => {
  let sandbox: Sandbox | undefined;
  let remote: RemoteCluster | undefined;
  afterEach(async () => {
    await remote?.stop();
    await sandbox?.close();
  });

  // The slice watch lists every Service's slices: one GET per Service the Link has no mirror of,
  // unthrottled under churn, would ask the remote about Services nobody here mirrors.
  it('asks the remote nothing of that Service: its slice just goes', async () => {
    sandbox = await startSandbox({ name: 'west', tls: false, watchWindow: 5, bookmarkIntervalMs: 200 });
    const admin: Cluster = { sandbox, client: KubeClient.fromKubeconfigString(sandbox.kubeconfig()) };
    await admin.client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
    await installedAs(admin, 'west');
    await exportService(admin, 'a', { ready: 1 });
    await exportService(admin, 'other', { ready: 1, exported: false });
    addReaderToken(admin, 'tok');
    const client = KubeClient.fromKubeconfigString(
      sandbox.kubeconfig({ token: 'tok', user: 'remote-reader' }),
    );
    const get = vi.spyOn(client, 'get');
    let up = true;
    let synced = false;
    const events: RemoteClusterEvents = {
      changed() {},
      exported() {},
      synced: () => {
        synced = true;
      },
      health: (connected) => {
        up = connected;
      },
      identity() {},
      gatewayAddresses() {},
      mirrored: (key) => key === 'default/a',
    };
    const shared = { resolveIntervalMs: 60_000, remoteBackoff: { initialMs: 50, maxMs: 300 } } as SharedLocal;
    remote = new RemoteCluster(client, withoutGateway, shared, events);
    remote.start();
    await waitFor(() => synced && remote?.endpoints('default', 'other').total === 1, { what: 'listed' });

    // The remote cannot be listed or watched while the slice goes and its history moves on: the
    // slice watch resumes after 410 Gone, and its re-list lacks the slice.
    addReaderToken(admin, 'tok', ['namespaces']);
    sandbox.faults.dropWatches();
    await waitFor(() => !up, { what: 'the remote API down' });
    await admin.client.delete(R.endpointSlices, 'default', 'other-abc');
    for (let i = 0; i < 10; i++)
      await admin.client.create(R.configMaps, { metadata: { name: `n${i}`, namespace: 'default' } });
    addReaderToken(admin, 'tok');
    await waitFor(() => up && remote?.endpoints('default', 'other').total === 0, {
      what: "other's slice gone",
    });
    expect(get.mock.calls.filter(([resource]) => resource === R.services)).toEqual([]);
  }, 30_000);
});
