import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_BACKOFF } from '../kube/backoff.js';
import type { KubeClient } from '../kube/client.js';
import {
  EXPORTED_LABEL,
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
  INSTALL_CLUSTER_NAME_LABEL,
  REMOTE_DISCOVERY_EXPORT,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { classify, RemoteCluster, type RemoteClusterEvents } from './remote-cluster.js';
import type { RemoteIdentity } from './remote-identity.js';
import type { SharedLocal } from './shared.js';
import { linkConfig } from './test-builders.js';

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
