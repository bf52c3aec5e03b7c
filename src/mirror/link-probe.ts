/**
 * One Link's probe of its remote gateway (probe-worker.ts), and the telling of its news: the log
 * lines (at the levels probe-notices.ts decides) and what the LinkWatcher must do again.
 */
import type { LinkConfig } from './link-config.js';
import { livenessLevel, localGatewayLevel } from './probe-notices.js';
import { ProbeWorker } from './probe-worker.js';
import type { SharedLocal } from './shared.js';

export interface LinkProbeDeps {
  shared: SharedLocal;
  /** The gateway to probe; undefined while there is none to (followed-gateway.ts probeWaits). */
  target(): string | undefined;
  logFields(): object;
  /** The remote gateway's liveness changed: every key may need work. */
  livenessChanged(): void;
  /** Queues a status write. */
  statusChanged(): void;
}

/** `config`: the Link's when the watcher is made (the cluster; the probe's knobs until an update). */
export function linkProbe(config: LinkConfig, deps: LinkProbeDeps): ProbeWorker {
  const { shared } = deps;
  const probe: ProbeWorker = new ProbeWorker({
    cluster: config.clusterName,
    adminUrl: shared.adminUrl,
    target: () => deps.target(),
    path: config.probe.path,
    periodMs: config.probe.periodMs,
    timeoutMs: config.probe.timeoutMs,
    failureThreshold: config.probe.failureThreshold,
    metrics: shared.metrics,
    onChange: (alive) => {
      const fields = { ...deps.logFields(), alive };
      if (livenessLevel(alive) === 'warn')
        shared.log.warn({ ...fields, reason: probe.lastError }, 'remote gateway liveness changed');
      else shared.log.info(fields, 'remote gateway liveness changed');
      deps.livenessChanged();
    },
    // Liveness stays as it was (nothing is known of the remote): only GatewayAlive's reason changes.
    onLocalGateway: (error, before) => {
      const level = localGatewayLevel(error, before);
      if (level === 'warn')
        shared.log.warn({ ...deps.logFields(), reason: error }, "this cluster's gateway cannot probe");
      else if (level === 'debug')
        shared.log.debug({ ...deps.logFields(), reason: error }, "this cluster's gateway still cannot probe");
      else shared.log.info(deps.logFields(), "this cluster's gateway probes again");
      deps.statusChanged();
    },
    // Said once per change: GatewayAlive's message names the address that answers.
    onVia: (via, before) => {
      const fields = { ...deps.logFields(), probed: probe.target };
      const notice = viaNotice(via, before);
      if (notice === 'elsewhere')
        shared.log.info(
          { ...fields, answeredAt: via },
          'remote gateway answers at another address the Link names, not at the one probed',
        );
      else if (notice === 'probed')
        shared.log.info(fields, 'remote gateway answers at the address probed again');
      deps.statusChanged();
    },
  });
  return probe;
}

/**
 * Where the remote gateway answers changed (probe-worker.ts `via`; `before`: where it did): at
 * another address than the one probed, or at the one probed again; undefined when neither is news.
 */
export function viaNotice(
  via: string | undefined,
  before: string | undefined,
): 'elsewhere' | 'probed' | undefined {
  if (via !== undefined) return 'elsewhere';
  return before !== undefined ? 'probed' : undefined;
}
