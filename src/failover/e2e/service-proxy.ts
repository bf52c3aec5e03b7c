/**
 * A stand-in for kube-proxy, test-only: the sandbox has no data plane, so this is what turns "a
 * caller connects to the apex Service" into "a connection to one of its endpoints". Like kube-proxy
 * it reads every EndpointSlice labelled `kubernetes.io/service-name=<service>` (whoever manages
 * it), keeps the ready endpoints of the named port, merges duplicates by address:port, and picks
 * one uniformly at random per connection (the iptables mode's `statistic --mode random`).
 */
import net from 'node:net';
import type { KubeClient } from '../../kube/client.js';
import { createInformer } from '../../kube/informer.js';
import { SERVICE_NAME_LABEL } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import { synced } from '../../kube/test-support.js';
import type { V1EndpointSlice } from '../../kube/types.js';

export interface ServiceProxy {
  host: string;
  port: number;
  /** Ready `address:port` endpoints as the proxy currently sees them. */
  endpoints(): string[];
  close(): Promise<void>;
}

export async function startServiceProxy(
  client: KubeClient,
  opts: { namespace: string; service: string; portName: string; host: string },
): Promise<ServiceProxy> {
  const slices = createInformer<V1EndpointSlice>(client, R.endpointSlices, {
    namespace: opts.namespace,
    labelSelector: `${SERVICE_NAME_LABEL}=${opts.service}`,
  });
  slices.start();
  await synced(slices, `the slice informer of ${opts.namespace}/${opts.service}`);
  const endpoints = (): string[] => {
    const out = new Set<string>();
    for (const slice of slices.list()) {
      const port = slice.ports?.find((p) => (p.name ?? '') === opts.portName)?.port;
      if (port === undefined) continue;
      for (const ep of slice.endpoints ?? []) {
        const address = ep.addresses?.[0];
        if (address && ep.conditions?.ready !== false) out.add(`${address}:${port}`);
      }
    }
    return [...out];
  };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    sockets.add(inbound);
    inbound.on('close', () => sockets.delete(inbound));
    const ready = endpoints();
    const pick = ready[Math.floor(Math.random() * ready.length)];
    if (pick === undefined) {
      inbound.resetAndDestroy(); // kube-proxy REJECTs a Service without endpoints
      return;
    }
    const i = pick.lastIndexOf(':');
    const outbound = net.connect({ host: pick.slice(0, i), port: Number(pick.slice(i + 1)), noDelay: true });
    inbound.setNoDelay(true);
    sockets.add(outbound);
    outbound.on('close', () => sockets.delete(outbound));
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, opts.host, resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    host: opts.host,
    port,
    endpoints,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await slices.stop();
    },
  };
}
