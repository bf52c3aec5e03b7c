import { describe, expect, it } from 'vitest';
import { EXPORTED_LABEL, FEDERATED_LABEL, FEDERATED_MEMBER, REMOTE_DISCOVERY_EXPORT } from '../kube/keys.js';
import { classify } from './remote-cluster.js';
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
