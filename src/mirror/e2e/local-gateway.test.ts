/**
 * Whose a failed probe is, with real gateways: east's controller probes west's and north's
 * gateways through east's own gateway (its admin `/probe`). A stopped remote gateway is that
 * remote's failure; east's gateway stopped, or back without a certificate, is east's, and names
 * no remote: every Link says LocalGatewayUnavailable and no `gateway_alive` drops for it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NS, PROBE_FAILURE_THRESHOLD, startWorld, type World } from '../../failover/e2e/world.js';
import { type GatewayFlags, gatewayOptionsFromFlags } from '../../gateway/config.js';
import { type Cluster, freePort, gatewayFlags, writeGatewayCertFiles } from '../../gateway/e2e/fixtures.js';
import { runGateway } from '../../gateway/run-gateway.js';
import { R } from '../../kube/resources.js';
import type { V1Condition, V1EndpointSlice } from '../../kube/types.js';
import { condition, getLink, metricValue } from '../test-harness.js';
import { waitFor } from '../test-wait.js';

const HOSTS = { east: '127.0.101.1', west: '127.0.102.1', north: '127.0.103.1', proxy: '127.0.101.10' };

let world: World;
/** East's gateway as this file restarts it, on the admin port the controller probes through. */
let eastGateway: { cluster: Cluster; adminPort: number; stop?: () => Promise<unknown> };

beforeAll(async () => {
  world = await startWorld(HOSTS);
  const certs = await writeGatewayCertFiles('east');
  const kubeconfigFile = join(certs.dir, 'kubeconfig');
  await writeFile(kubeconfigFile, world.east.sandbox.kubeconfig());
  eastGateway = {
    cluster: { sandbox: world.east.sandbox, kube: world.east.kube, kubeconfigFile, certs },
    adminPort: world.east.gateway.admin.address.port,
  };
}, 60_000);

afterAll(async () => {
  await eastGateway?.stop?.();
  await world?.close();
  await eastGateway?.cluster.certs.remove();
});

/** East's Link to `cluster`'s GatewayAlive condition, once `holds`. */
function gatewayAlive(cluster: 'west' | 'north', holds: (c: V1Condition) => boolean) {
  return waitFor(
    async () => {
      const c = condition(
        await getLink({ sandbox: world.east.sandbox, client: world.east.kube }, cluster),
        'GatewayAlive',
      );
      return c && holds(c) ? c : undefined;
    },
    { what: `GatewayAlive of ${cluster}` },
  );
}

const metric = (name: string, cluster: string, labels: Record<string, string> = {}) =>
  metricValue(world.registry, name, { target_cluster_name: cluster, ...labels });

/** Waits until `cluster`'s probes have failed on this side more often than failureThreshold. */
async function failedHereRepeatedly(cluster: string): Promise<void> {
  const before = (await metric('gateway_probes_total', cluster, { result: 'local_failure' })) ?? 0;
  const more = PROBE_FAILURE_THRESHOLD + 1;
  await waitFor(
    async () =>
      ((await metric('gateway_probes_total', cluster, { result: 'local_failure' })) ?? 0) >= before + more,
    { what: `${more} more local failures of ${cluster}'s probes` },
  );
}

async function mirrorReady(name: string): Promise<boolean> {
  const slice = await world.east.kube.get<V1EndpointSlice>(R.endpointSlices, NS, name);
  return slice?.endpoints?.some((e) => e.conditions?.ready === true) ?? false;
}

/** Starts east's gateway again on the controller's admin port, with `flags` over its usual ones. */
async function restartEast(flags: (usual: GatewayFlags) => GatewayFlags): Promise<void> {
  await eastGateway.stop?.();
  const usual = gatewayFlags(eastGateway.cluster, 'east', HOSTS.east, { admin: eastGateway.adminPort });
  const abort = new AbortController();
  const running = runGateway(gatewayOptionsFromFlags(flags(usual)), {
    logger: pino({ level: 'silent' }),
    processMetrics: false,
    signal: abort.signal,
  });
  eastGateway.stop = async () => {
    abort.abort();
    await (await running.catch(() => undefined))?.stop();
  };
}

describe("a failed probe is the remote's or this cluster's", () => {
  it("a stopped remote gateway is that remote's failure; the other remote stays alive", async () => {
    await gatewayAlive('west', (c) => c.status === 'True');
    await gatewayAlive('north', (c) => c.status === 'True');
    await world.west.gateway.stop();
    expect(await gatewayAlive('west', (c) => c.status === 'False')).toMatchObject({ reason: 'ProbeFailed' });
    expect(await metric('gateway_alive', 'west')).toBe(0);
    expect(await metric('isthmus_local_gateway_up', 'west')).toBe(1);
    expect((await gatewayAlive('north', () => true)).status).toBe('True');
  });

  it("east's gateway stopped: every Link says so, and no remote is blamed", async () => {
    await world.east.gateway.stop();
    for (const cluster of ['west', 'north'] as const) {
      const c = await gatewayAlive(cluster, (x) => x.reason === 'LocalGatewayUnavailable');
      expect(c).toMatchObject({ status: 'Unknown' });
      // Refused once it is down; a probe in flight as it stopped sees its connection reset instead.
      expect(
        c.message.startsWith(
          `this cluster's gateway admin (http://${HOSTS.east}:${eastGateway.adminPort}) did not answer: `,
        ),
      ).toBe(true);
      expect(c.message).toMatch(
        /did not answer: (connect ECONNREFUSED|read ECONNRESET|other side closed|socket hang up)/,
      );
    }
    await failedHereRepeatedly('north');
    // What was last known of each remote stays: north alive, west dead; neither changed for this.
    expect(await metric('gateway_alive', 'north')).toBe(1);
    expect(await metric('gateway_alive', 'west')).toBe(0);
    expect(await metric('isthmus_local_gateway_up', 'north')).toBe(0);
    expect(await metric('isthmus_local_gateway_up', 'west')).toBe(0);
    expect(await mirrorReady('podinfo-north')).toBe(true);
  });

  it("east's gateway back without a certificate answers that it cannot probe: still no remote blamed", async () => {
    // An identity service that is not there: the gateway serves its admin port and waits.
    const identity = `${HOSTS.east}:${await freePort(HOSTS.east)}`;
    await restartEast(({ certFile, keyFile: _k, ...usual }) => ({
      ...usual,
      identityAddress: identity,
      tokenFile: certFile,
    }));
    for (const cluster of ['west', 'north'] as const) {
      const c = await gatewayAlive(cluster, (x) => x.message?.includes('cannot probe') === true);
      expect(c).toMatchObject({ status: 'Unknown', reason: 'LocalGatewayUnavailable' });
      expect(c.message).toMatch(/^this cluster's gateway cannot probe: certificates not loaded: /);
    }
    await failedHereRepeatedly('north');
    expect(await metric('gateway_alive', 'north')).toBe(1);
    expect(await metric('gateway_probes_total', 'north', { result: 'failure' })).toBeUndefined();
  });

  it("east's gateway able to probe again: north is alive, west is the remote's failure again", async () => {
    await restartEast((usual) => usual);
    expect(await gatewayAlive('north', (c) => c.status === 'True')).toMatchObject({
      reason: 'ProbeSucceeded',
    });
    expect(await gatewayAlive('west', (c) => c.status === 'False')).toMatchObject({ reason: 'ProbeFailed' });
    expect(await metric('isthmus_local_gateway_up', 'north')).toBe(1);
    expect(await metric('isthmus_local_gateway_up', 'west')).toBe(1);
  });
});
