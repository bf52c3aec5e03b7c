import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_SERVICE_NAME, SERVICE_NAME_LABEL, SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice } from '../kube/types.js';
import {
  condition,
  exportService,
  getLink,
  getService,
  getSlice,
  link,
  metricValue,
  World,
  waitFor,
  waitReady,
} from './test-harness.js';

let world: World | undefined;
let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
  }
  child = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  await world?.close();
  world = undefined;
});

function gatewaySlice(ready: Record<string, boolean>, addressType = 'IPv4'): V1EndpointSlice {
  return {
    metadata: {
      name: `${GATEWAY_SERVICE_NAME}-${addressType.toLowerCase()}`,
      namespace: SYSTEM_NAMESPACE,
      labels: { [SERVICE_NAME_LABEL]: GATEWAY_SERVICE_NAME },
    },
    addressType,
    endpoints: Object.entries(ready).map(([ip, r]) => ({ addresses: [ip], conditions: { ready: r } })),
    ports: [{ name: 'egress', port: 20000, protocol: 'TCP' }],
  };
}

describe('controller process and local gateway discovery', () => {
  it('points mirrors at the ready pods of the local isthmus-gateway and times export → ready', async () => {
    world = await World.start(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    const created = await east.client.create(
      R.endpointSlices,
      gatewaySlice({ '10.0.0.7': true, '10.0.0.8': false }),
    );
    await link(east, west, 'west');
    const { ctl } = world.controller('east', { gatewayEndpoints: undefined });
    await waitFor(async () => condition(await getLink(east, 'west'), 'Ready')?.status === 'True', {
      what: 'Link ready',
    });
    // Exported while the Link watches: an export, timed (what its first list held would not be).
    await exportService(west, 'podinfo', { ready: 1 });
    const slice = await waitReady(east, 'default', 'podinfo-west');
    expect(slice.endpoints?.map((e) => e.addresses[0])).toEqual(['10.0.0.7']);

    await east.client.replace(R.endpointSlices, {
      ...created,
      ...gatewaySlice({ '10.0.0.7': true, '10.0.0.8': true }),
      metadata: created.metadata,
    });
    await waitFor(async () => (await getSlice(east, 'default', 'podinfo-west'))?.endpoints?.length === 2, {
      what: 'second gateway pod',
    });
    const metrics = await ctl.registry.getMetricsAsJSON();
    const hist = metrics.find((m) => m.name === 'isthmus_export_to_ready_seconds');
    const count = hist?.values.find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'));
    expect(count?.value).toBe(1);
    expect(
      await metricValue(ctl.registry, 'isthmus_mirrored_services', { target_cluster_name: 'west' }),
    ).toBe(1);
  });

  it("in an IPv6-first dual-stack cluster, mirrors are IPv6 Services served by the gateway pods' IPv6 addresses", async () => {
    world = await World.start(['east', 'west'], { serviceCidr: 'fd00:10:96::/112,10.96.0.0/16' });
    const [east, west] = [world.c('east'), world.c('west')];
    // A dual-stack gateway Service: the EndpointSlice controller writes one slice per family.
    await east.client.create(R.services, {
      metadata: { name: GATEWAY_SERVICE_NAME, namespace: SYSTEM_NAMESPACE },
      spec: {
        type: 'LoadBalancer',
        ipFamilyPolicy: 'PreferDualStack',
        selector: { app: GATEWAY_SERVICE_NAME },
        ports: [{ name: 'ingress', port: 4143 }],
      },
    });
    await east.client.create(R.endpointSlices, gatewaySlice({ '10.244.0.7': true }));
    await east.client.create(R.endpointSlices, gatewaySlice({ 'fd00:10:244::7': true }, 'IPv6'));
    await exportService(west, 'podinfo', { ready: 1 });
    await link(east, west, 'west');
    world.controller('east', { gatewayEndpoints: undefined });

    const slice = await waitReady(east, 'default', 'podinfo-west');
    expect(slice.addressType).toBe('IPv6');
    expect(slice.endpoints?.map((e) => e.addresses[0])).toEqual(['fd00:10:244::7']);
    // kube-proxy serves a Service of one family from slices of that family only: the mirror's is IPv6.
    const mirror = await getService(east, 'default', 'podinfo-west');
    expect(mirror?.spec?.ipFamilies).toEqual(['IPv6']);
    expect(mirror?.spec?.clusterIP).toMatch(/^fd00:10:96::/);
  });

  it('`isthmus controller` runs as a process and stops cleanly on SIGTERM', async () => {
    world = await World.start(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await link(east, west, 'west');
    dir = mkdtempSync(join(tmpdir(), 'isthmus-mirror-'));
    const kubeconfig = join(dir, 'east.yaml');
    writeFileSync(kubeconfig, east.sandbox.kubeconfig());
    const bin = new URL('../../bin/isthmus.mjs', import.meta.url).pathname;
    const args = [bin, 'controller', '--cluster', 'east', '--kubeconfig', kubeconfig, '--log-level', 'warn'];
    args.push('--gateway-admin', world.probe.url, '--gateway-endpoints', '10.0.0.5');
    args.push('--admin-host', '127.0.0.1', '--admin-port', '0');
    child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    // Start-up includes tsx compiling the import graph: slow on a busy two-core machine.
    await waitReady(east, 'default', 'podinfo-west', true, 45_000);
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<string>((r) => setTimeout(() => r('timeout'), 15_000).unref()),
    ]);
    expect(code, stderr).toBe(0);
  });
});
