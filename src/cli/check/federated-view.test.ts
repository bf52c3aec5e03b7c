import { describe, expect, it } from 'vitest';
import { service, slice } from '../../failover/test-builders.js';
import { FEDERATION_STANDBY_ANNOTATION } from '../../federation/plan-federation.js';
import {
  CLUSTER_NAME_LABEL,
  FEDERATED_SERVICE_LABEL,
  FEDERATION_AFFINITY_ANNOTATION,
  FEDERATION_MEMBERS_ANNOTATION,
  FEDERATION_NO_MATCHING_PORT_ANNOTATION,
  MANAGED_BY_FEDERATION,
  MANAGED_BY_LABEL,
} from '../../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../../kube/types.js';
import { federatedRows, NO_READY_ENDPOINT, renderFederatedTable, servingLabel } from './federated-view.js';

const federated = (ns: string, name: string, members: string): V1Service => ({
  ...service(ns, name),
  metadata: {
    namespace: ns,
    name,
    labels: { [FEDERATED_SERVICE_LABEL]: 'true' },
    annotations: { [FEDERATION_MEMBERS_ANNOTATION]: members },
  },
});
const memberSlice = (ns: string, svc: string, cluster: string, ready: string[], notReady: string[] = []) => {
  const s: V1EndpointSlice = slice(ns, svc, { ready, notReady, name: `${svc}-isthmus-${cluster}` });
  s.metadata!.labels = {
    ...s.metadata!.labels,
    [MANAGED_BY_LABEL]: MANAGED_BY_FEDERATION,
    [CLUSTER_NAME_LABEL]: cluster,
  };
  return s;
};

describe('isthmus federated', () => {
  const rows = federatedRows(
    [federated('shop', 'cart-federated', 'east,north,west'), federated('default', 'api-federated', 'west')],
    [
      memberSlice('shop', 'cart-federated', 'east', ['10.1.0.7', '10.1.0.8']),
      memberSlice('shop', 'cart-federated', 'west', ['10.0.0.5'], ['10.0.0.6']),
      memberSlice('default', 'api-federated', 'west', [], ['10.0.0.5']),
    ],
  );

  it('counts ready endpoints per member cluster; a member with none serves 0', () => {
    expect(rows).toEqual([
      {
        namespace: 'default',
        service: 'api-federated',
        members: ['west'],
        affinity: 'none',
        serving: {},
        standby: [],
        noMatchingPort: [],
      },
      {
        namespace: 'shop',
        service: 'cart-federated',
        members: ['east', 'north', 'west'],
        affinity: 'none',
        serving: { east: 2, west: 1 },
        standby: [],
        noMatchingPort: [],
      },
    ]);
  });

  it('counts a dual-stack pod once: it is listed in the IPv4 and the IPv6 slice', () => {
    const v4 = memberSlice('shop', 'cart-federated', 'east', ['10.1.0.7', '10.1.0.8']);
    const v6 = memberSlice('shop', 'cart-federated', 'east', ['fd00::7', 'fd00::8']);
    v6.metadata!.name = `${v6.metadata!.name}.v6`;
    v6.addressType = 'IPv6';
    const [row] = federatedRows([federated('shop', 'cart-federated', 'east')], [v4, v6]);
    expect(row!.serving).toEqual({ east: 2 });
  });

  it('renders a kubectl-style table, and says so when there is nothing', () => {
    expect(renderFederatedTable(rows).split('\n')).toEqual([
      'NAMESPACE  SERVICE         MEMBERS          AFFINITY  SERVING (ENDPOINTS)',
      'default    api-federated   west             none      west (no ready endpoint)',
      'shop       cart-federated  east,north,west  none      east (2), north (no ready endpoint), west (1)',
    ]);
    expect(renderFederatedTable([])).toMatch(/^No federated services/);
  });

  it('with nothing to show, says where it looked: the namespace -n gave, or every namespace', () => {
    expect(renderFederatedTable([], { namespace: 'nosuchns' })).toBe(
      'No federated services in namespace nosuchns: no Service labelled mirror.linkerd.io/federated=member in nosuchns, here or in a linked cluster (without -n, isthmus federated looks in every namespace).\n',
    );
    expect(renderFederatedTable([])).toBe(
      'No federated services in any namespace: no Service labelled mirror.linkerd.io/federated=member here or in a linked cluster.\n',
    );
  });

  it("a member whose ports are all named otherwise than the federated Service's: no matching port, not no ready endpoint", () => {
    // east's web has an unnamed port 80, west's a port named http: the controller lists west.
    const svc = federated('shop', 'web-federated', 'east,west');
    svc.metadata!.annotations![FEDERATION_NO_MATCHING_PORT_ANNOTATION] = 'west';
    const [row] = federatedRows([svc], [memberSlice('shop', 'web-federated', 'east', ['10.1.0.7'])]);
    expect(row!.noMatchingPort).toEqual(['west']);
    expect(renderFederatedTable([row!]).split('\n')[1]).toBe(
      'shop       web-federated  east,west  none      east (1), west (no matching port)',
    );
    // isthmus check still counts it among the members without a ready endpoint (it serves nothing).
    expect(servingLabel(row!, 'west')).toBe(NO_READY_ENDPOINT);
  });

  it('shows a member the controller holds on standby (affinity) as standby', () => {
    const svc = federated('shop', 'cart-federated', 'east,west');
    svc.metadata!.annotations![FEDERATION_AFFINITY_ANNOTATION] = 'local';
    svc.metadata!.annotations![FEDERATION_STANDBY_ANNOTATION] = 'west';
    const local = federatedRows([svc], [memberSlice('shop', 'cart-federated', 'east', ['10.1.0.7'])]);
    expect(renderFederatedTable(local).split('\n')[1]).toBe(
      'shop       cart-federated  east,west  local     east (1), west (standby)',
    );
  });

  it('affinity local, the local pods all terminating: east has no ready endpoint, it is not on standby', () => {
    // The remote member took over: the controller holds nobody on standby.
    const svc = federated('shop', 'cart-federated', 'east,west');
    svc.metadata!.annotations![FEDERATION_AFFINITY_ANNOTATION] = 'local';
    const [row] = federatedRows([svc], [memberSlice('shop', 'cart-federated', 'west', ['10.0.0.5'])]);
    expect(renderFederatedTable([row!]).split('\n')[1]).toBe(
      'shop       cart-federated  east,west  local     east (no ready endpoint), west (1)',
    );
    expect(row!.standby).toEqual([]);
  });
});
