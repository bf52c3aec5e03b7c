import type { Command } from 'commander';
import type { Link } from '../../kube/types.js';
import {
  addKubeFlags,
  type KubeFlags,
  kubeClientFromFlags,
  parseDurationFlag,
  parseHttpUrlFlag,
} from '../common-flags.js';
import { type OutputFormat, outputOption, renderOutput } from '../output.js';

interface GatewaysFlags extends KubeFlags {
  output: OutputFormat;
  controllerAdmin?: string;
  window?: string;
}

export function registerGateways(program: Command): void {
  addKubeFlags(
    program
      .command('gateways')
      .description(
        'Per linked cluster: is its gateway alive, how many services are mirrored from it, and the p50/p95 latency of its successful probes (since the controller started, or over --window)',
      )
      .addOption(outputOption())
      .option(
        '--controller-admin <url>',
        'controller admin URL for probe latencies (default: an isthmus-controller pod through the API server proxy)',
      )
      .option(
        '--window <duration>',
        'latency of the successful probes of the next <duration> only: scrapes now, waits, scrapes again',
      ),
  ).action(async (flags: GatewaysFlags) => {
    const windowMs = flags.window ? parseDurationFlag(flags.window, '--window') : 0;
    // A flag error, not a note after the table: `localhost:4191` is no URL to fetch.
    if (flags.controllerAdmin !== undefined)
      parseHttpUrlFlag(flags.controllerAdmin, '--controller-admin', 'http://127.0.0.1:4191');
    const { R, SYSTEM_NAMESPACE } = await import('../../kube/index.js');
    const { controllerMetrics, gatewayRows, localGatewayNote, renderGatewaysTable } = await import(
      '../check/gateways-view.js'
    );
    const { scrapeControllerMetrics } = await import('../check/controller-scrape.js');
    const { readMirrorLease } = await import('../check/gather.js');
    const { leaderProblem } = await import('../check/checks/controller.js');
    const { serverTime } = await import('../../kube/server-time.js');
    const client = await kubeClientFromFlags(flags);
    try {
      const { items: links } = await client.list<Link>(R.links, { namespace: SYSTEM_NAMESPACE });
      let metrics: ReturnType<typeof controllerMetrics> | undefined;
      try {
        const first = await scrapeControllerMetrics(client, flags.controllerAdmin);
        if (windowMs > 0) {
          // Said up front: otherwise a --window of a minute looks like a hang.
          process.stderr.write(
            `note: measuring the probes of the next ${flags.window}; the table follows then\n`,
          );
          await new Promise((r) => setTimeout(r, windowMs));
          metrics = controllerMetrics(await scrapeControllerMetrics(client, flags.controllerAdmin), first);
        } else {
          metrics = controllerMetrics(first);
        }
      } catch (err) {
        process.stderr.write(`note: probe latencies unavailable: ${(err as Error).message}\n`);
      }
      // Only a leader probes and writes the Link status: without one, both are stale.
      // Judged by the API server's clock, as the leader's renewals were written: not this machine's.
      const now = (await serverTime(client).catch(() => undefined)) ?? new Date();
      const leaderless = await readMirrorLease(client).then(
        (lease) => leaderProblem(lease, now),
        () => undefined, // the Lease cannot be read: nothing known against the status
      );
      if (leaderless) process.stderr.write(`note: ALIVE is unknown: ${leaderless}\n`);
      else {
        const local = localGatewayNote(links);
        if (local) process.stderr.write(`note: ${local}\n`);
      }
      const rows = gatewayRows(links, metrics, leaderless !== undefined);
      process.stdout.write(await renderOutput(flags.output, rows, () => renderGatewaysTable(rows)));
    } finally {
      client.close();
    }
  });
}
