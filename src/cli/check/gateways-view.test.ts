import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { controllerMetrics, gatewayRows, localGatewayNote, renderGatewaysTable } from './gateways-view.js';
import { link } from './test-builders.js';

const scrape = readFileSync(join(import.meta.dirname, 'testdata', 'controller-metrics.txt'), 'utf8');
const links = [
  link('west'),
  link('north', {
    conditions: [{ type: 'GatewayAlive', status: 'False', reason: 'ProbeFailed', message: 'ECONNREFUSED' }],
  }),
  link('south', { conditions: [{ type: 'GatewayAlive', status: 'Unknown', reason: 'NotProbedYet' }] }),
];

describe('isthmus gateways', () => {
  it('renders alive, mirrored services and probe latency percentiles', async () => {
    const rows = gatewayRows(links, controllerMetrics(scrape));
    expect(rows.find((r) => r.cluster === 'west')).toEqual({
      cluster: 'west',
      gateway: true,
      alive: true,
      numServices: 1,
      latencyP50Ms: 3.5,
      latencyP95Ms: 41.7,
      version: '0.1.0',
    });
    await expect(`${renderGatewaysTable(rows)}\n`).toMatchFileSnapshot('testdata/gateways.golden.txt');
  });

  it('shows no latency without metrics, and falls back to the gauges without Link status', () => {
    const bare = link('north');
    delete bare.status;
    expect(gatewayRows([bare])).toEqual([
      {
        cluster: 'north',
        gateway: true,
        alive: null,
        numServices: null,
        latencyP50Ms: null,
        latencyP95Ms: null,
        version: null,
      },
    ]);
    expect(gatewayRows([bare], controllerMetrics(scrape))[0]).toMatchObject({ alive: false, numServices: 4 });
  });

  // A hung leader's latencies are of probes nobody makes now: shown as if current, they read as health.
  it('with no controller leading, ALIVE is unknown whatever the last leader wrote, and no latency is shown', () => {
    const rows = gatewayRows(links, controllerMetrics(scrape), true);
    expect(rows.map((r) => [r.cluster, r.alive, r.latencyP50Ms, r.latencyP95Ms])).toEqual([
      ['north', null, null, null],
      ['south', null, null, null],
      ['west', null, null, null],
    ]);
    // The mirrors counted stay (no leader deletes them), as does the version last heard.
    expect(renderGatewaysTable(rows)).toMatch(/^west\s+Unknown\s+1\s+-\s+-\s+0\.1\.0$/m);
  });

  // The probes go through this cluster's gateway; while it cannot make them, gateway_alive keeps the
  // last value heard of the remote, which said "True" for every remote during a local outage.
  it("while this cluster's gateway cannot probe, ALIVE is unknown, not the gauge's last value, and a note says why", () => {
    const local = {
      type: 'GatewayAlive',
      status: 'Unknown',
      reason: 'LocalGatewayUnavailable',
      message: "this cluster's gateway cannot probe: certificates not loaded",
    };
    const stuck = [link('west', { conditions: [local] })];
    const [row] = gatewayRows(stuck, controllerMetrics(scrape));
    expect(row).toMatchObject({ cluster: 'west', alive: null });
    expect(renderGatewaysTable([row!])).toMatch(/^west\s+Unknown\s/m);
    expect(localGatewayNote(stuck)).toBe(
      "ALIVE is unknown: this cluster's gateway cannot probe: certificates not loaded; `isthmus check` says what to fix here",
    );
    expect(localGatewayNote(links)).toBeUndefined();
  });

  it('a Link without a gateway shows - for ALIVE, whatever a stale gauge says', () => {
    const flat = link('east', { spec: { gatewayAddress: undefined } });
    const [row] = gatewayRows([flat], controllerMetrics(scrape.replaceAll('"north"', '"east"')));
    expect(row).toMatchObject({ gateway: false, alive: null });
    expect(renderGatewaysTable([row!])).toMatch(/^east\s+-\s+1\s+-\s+-\s+-$/m);
  });

  it('over a window, counts only the probes between the two scrapes', () => {
    const later = scrape.replace(
      /gateway_probe_latency_ms_bucket\{le="(\d+|\+Inf)",target_cluster_name="west"\} (\d+)/g,
      (_m, le: string, n: string) =>
        `gateway_probe_latency_ms_bucket{le="${le}",target_cluster_name="west"} ${Number(n) + (le === '1' ? 0 : 10)}`,
    );
    const [west] = gatewayRows([link('west')], controllerMetrics(later, scrape));
    // Ten new probes, all between 1 and 2 ms.
    expect(west).toMatchObject({ latencyP50Ms: 1.5, latencyP95Ms: 2 });
  });
});
