/**
 * `isthmus controller`: the mirror, failover and federation controllers of one cluster in one
 * process, sharing one API client, one metrics registry and one Lease. Every replica keeps its
 * caches and probes warm; only the Lease holder writes (every write is fenced by the Lease's term; the
 * failover and federation controllers run only while leading). A replica that stops leading drops
 * the series only a leader exposes; one that stops releases the Lease as soon as nothing it runs
 * can write any more, before the rest of its stop.
 */
import { pino } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { describeError } from '../../errors.js';
import { runFailoverController } from '../../failover/controller.js';
import { runFederationController } from '../../federation/controller.js';
import type { KubeClient } from '../../kube/client.js';
import { EventRecorder } from '../../kube/events.js';
import type { LeaderElectionConfig } from '../../kube/leader-election.js';
import { createLocalInformers, runController } from '../../mirror/controller.js';
import { electLeader, leadershipLogLine } from '../../mirror/leadership.js';
import type { PortRange } from '../../mirror/port-allocator.js';
import { Leadership } from '../../mirror/shared.js';
import { type AdminServer, startAdminServer } from './admin-server.js';
import { logControllerDiagnostics } from './log-diagnostics.js';

export interface ControllerProcessOptions {
  cluster: string;
  client: KubeClient;
  gatewayAdminUrl: string;
  gatewayEndpoints?: string[];
  /** false: this cluster runs no gateway (`--no-gateway`): only Links without one are valid. */
  localGateway?: boolean;
  egressPortRange: PortRange;
  /** Syncs in flight per Link (default: the mirror controller's). */
  mirrorWorkers?: number;
  /** How long removals a shrunk remote list would make are held (`--mirror-deletion-grace`; 0: never). */
  mirrorDeletionGraceMs?: number;
  failoverControlledBy: string;
  leaderElect: boolean;
  /** The Lease's timings (default client-go's 15 s / 10 s / 2 s); tests shorten them. */
  leaderElection?: Pick<LeaderElectionConfig, 'leaseDurationSeconds' | 'renewDeadlineMs' | 'retryPeriodMs'>;
  admin: { host: string; port: number };
  logLevel: string;
  /** Where the log goes (default stderr); tests read it. */
  logDestination?: pino.DestinationStream;
}

/**
 * A part of the process that runs only while this replica leads: the failover and federation
 * controllers, which write on every reconcile. A replica that stops leading stops it, then calls
 * `clearMetrics()`, which must remove (not zero) every series only a leader sets (a split failed
 * over, a federation's members): a former leader's last values would go stale, keeping `max by`
 * alerts firing and counted twice in sums. It is called once stop() has resolved, so no reconcile
 * still running can set them again. The mirror controller runs on every replica and removes its
 * leader-only series itself when leadership ends (src/mirror/link-metrics.ts).
 */
export interface LeaderOnlyPart {
  stop(): Promise<void>;
  clearMetrics(): void;
}

export interface RunningControllerProcess {
  /** The admin server's port (`admin.port` 0 picks one). */
  adminPort: number;
  stop(): Promise<void>;
}

/**
 * The controller's logger: every line says `component` and the local `cluster` (absent when not
 * named). Lines about a Link name the cluster it targets `target_cluster` (the metrics'
 * `target_cluster_name`), never `cluster`, which the base field holds: a JSON object with the key
 * twice loses one of them to jq and most log pipelines.
 */
export function controllerLogger(
  level: string | undefined,
  cluster: string | undefined,
  destination: pino.DestinationStream,
): pino.Logger {
  return pino({ level: level ?? 'info', base: { component: 'controller', cluster } }, destination);
}

export async function runControllerProcess(
  opts: ControllerProcessOptions,
  /** Aborted (SIGTERM, SIGINT) while starting: the start stops what it began and rejects. */
  signal?: AbortSignal,
): Promise<RunningControllerProcess> {
  const log = controllerLogger(opts.logLevel, opts.cluster, opts.logDestination ?? pino.destination(2));
  const stopLogging = logControllerDiagnostics(log);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const election = opts.leaderElect ? electLeader(opts.client, opts.leaderElection) : undefined;
  const leadership = election?.leadership ?? new Leadership(true);
  // Every write the controllers make (not the Lease's own) is sent only while this replica leads
  // and its Lease's term runs: checked per write, so a sync under way when the term ends stops there
  // (the elector's term, not only its callbacks: a process frozen past its term resumes with its
  // own work queued before the elector's step-down). Leadership itself stays what the callbacks
  // said, so whatever waits for a change of it is told.
  const writer = election
    ? opts.client.fencedWrites(() => leadership.isLeader() && election.elector.isLeader())
    : opts.client;
  const recorder = new EventRecorder(writer, { component: 'isthmus-controller' });

  // One list-watch of every Service and EndpointSlice for all three controllers (each would otherwise
  // have its own: every mirror write would be streamed, parsed and cached twice).
  const localInformers = createLocalInformers(opts.client);
  const ownedInformers = [localInformers.services, localInformers.slices];
  for (const informer of ownedInformers) informer.start();
  const mirror = runController({
    client: writer,
    cluster: opts.cluster,
    localInformers,
    gatewayAdminUrl: opts.gatewayAdminUrl,
    ...(opts.gatewayEndpoints?.length ? { gatewayEndpoints: opts.gatewayEndpoints } : {}),
    ...(opts.localGateway === false ? { localGateway: false } : {}),
    egressPortRange: opts.egressPortRange,
    ...(opts.mirrorWorkers ? { workers: opts.mirrorWorkers } : {}),
    ...(opts.mirrorDeletionGraceMs !== undefined ? { deletionGraceMs: opts.mirrorDeletionGraceMs } : {}),
    registry,
    leadership,
    recorder,
    log,
  });

  // The failover and federation controllers write on every reconcile, so they run only on the leader.
  let leaderOnly: LeaderOnlyPart[] | undefined;
  let leadershipChain = Promise.resolve();
  const stopLeaderOnly = async () => {
    const running = leaderOnly;
    leaderOnly = undefined;
    await Promise.all(
      (running ?? []).map(async (part) => {
        await part.stop();
        part.clearMetrics();
      }),
    );
  };
  const logLeadership: Parameters<Leadership['subscribe']>[0] = (leading, why) => {
    const line = leadershipLogLine(leading, why);
    log[line.level](line.fields, line.msg);
  };
  // Until the elector has stopped, so that the release at shutdown is logged too.
  const stopLeadershipLog = leadership.subscribe(logLeadership);
  const onLeadership = (leading: boolean) => {
    leadershipChain = leadershipChain.then(async () => {
      if (leading && !leaderOnly) {
        const shared = { client: writer, registry, recorder, informers: localInformers };
        leaderOnly = [
          runFailoverController({ ...shared, controlledBy: opts.failoverControlledBy }),
          runFederationController({ ...shared, localCluster: opts.cluster }),
        ];
      } else if (!leading) {
        await stopLeaderOnly();
      }
    });
  };
  const unsubscribe = leadership.subscribe(onLeadership);
  if (leadership.isLeader()) {
    logLeadership(true);
    onLeadership(true);
  }

  let mirrorReady = false;
  let admin: AdminServer | undefined;
  // Everything started above, stopped in reverse. Also on a failed or interrupted start: the
  // elector's renewals, a leader's failover and federation controllers and the client's sockets
  // would otherwise keep the process alive, not ready, holding the Lease.
  //
  // What writes as the leader stops first (the mirror ends its remote calls at once and waits for
  // a local write in flight at most STOP_GRACE_MS), then the Lease is released, so a successor
  // takes over in milliseconds, not when the Lease runs out. Released before that, a write still
  // under way here could land after the successor's first: two leaders.
  const shutdown = async () => {
    unsubscribe();
    await leadershipChain.catch(() => undefined);
    await Promise.all([stopLeaderOnly(), mirror.stop()]);
    await election?.elector.stop();
    stopLeadershipLog();
    await Promise.all(ownedInformers.map((i) => i.stop()));
    await admin?.close();
    opts.client.close();
    stopLogging();
  };
  let adminPort = 0;
  try {
    admin = await startAdminServer({
      ...opts.admin,
      registry,
      ready: () => (mirrorReady ? null : 'caches not synced yet'),
    });
    adminPort = admin.port;
    // A SIGTERM while the caches sync (an API server that is down, a list RBAC refuses) stops the
    // start instead of waiting out the stop deadline.
    await untilAborted(mirror.ready, signal);
    mirrorReady = true;
    log.info(
      opts.localGateway === false ? { gateway: 'none' } : { gatewayAdmin: opts.gatewayAdminUrl },
      'controller started',
    );
  } catch (err) {
    log.info({ err: describeError(err) }, 'controller start failed; stopping');
    await shutdown();
    log.flush();
    throw err;
  }

  return {
    adminPort,
    async stop() {
      await shutdown();
      log.info({}, 'controller stopped');
      log.flush();
    },
  };
}

/** `work`, or the signal's abort reason once it is aborted first. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}
