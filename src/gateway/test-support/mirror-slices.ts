/**
 * Test builders: the EndpointSlices the mirror controller writes for mirror Services, which vouch
 * for their egress ports (watch-mirrors.ts, `admitRoutes`), for tests about something else.
 */
import {
  EGRESS_PORTS_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
  SERVICE_NAME_LABEL,
} from '../../kube/keys.js';
import { type VouchedPorts, vouchedPorts } from '../../kube/linkerd-mirror.js';
import type { V1EndpointSlice, V1Service } from '../../kube/types.js';
import { parseEgressPorts } from '../../mirror/mirror-objects.js';
import type { WatchSource } from '../watch-exports.js';

/** The slice the mirror controller writes for `mirror`: its egress ports, no endpoints. */
export function controllerSlice(mirror: V1Service): V1EndpointSlice {
  const name = mirror.metadata?.name ?? '';
  const ports = [...parseEgressPorts(mirror.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).values()];
  const fqName = mirror.metadata?.annotations?.[REMOTE_SVC_FQ_NAME_ANNOTATION] ?? '';
  return {
    metadata: {
      namespace: mirror.metadata?.namespace ?? '',
      name,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_MIRROR, [SERVICE_NAME_LABEL]: name },
      annotations: { [REMOTE_SVC_FQ_NAME_ANNOTATION]: fqName },
    },
    addressType: 'IPv4',
    endpoints: [],
    ports: ports.map((port) => ({ name: '', port, protocol: 'TCP' })),
  };
}

/** Every port `services` claim, vouched for: as if the controller had written them all. */
export function vouchAll(services: readonly V1Service[]): VouchedPorts {
  return vouchedPorts(services.map(controllerSlice));
}

/** A slice source that follows `mirrors`: a controller slice for each, as the controller writes them. */
export function controllerSlices(mirrors: WatchSource<V1Service>): WatchSource<V1EndpointSlice> {
  return {
    list: () => mirrors.list().map(controllerSlice),
    get: (namespace, name) => {
      const mirror = mirrors.get(namespace, name);
      return mirror && controllerSlice(mirror);
    },
    onEvent: (listener) =>
      mirrors.onEvent((e) => listener({ type: e.type, object: controllerSlice(e.object) })),
  };
}
