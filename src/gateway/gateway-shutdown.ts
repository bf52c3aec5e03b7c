/**
 * The graceful stop of a SIGTERM (config.shutdown): not ready at once, still serving for the drain
 * delay, then no new tunnels on either side, a grace period for those in flight, and the rest cut.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { EgressListeners } from './egress.js';
import type { GatewayContext } from './gateway-context.js';
import type { ReadinessState } from './gateway-readiness.js';
import type { Ingress } from './ingress.js';
import type { MirrorWatcher } from './watch-mirrors.js';

export interface DrainedParts {
  state: ReadinessState;
  ingress: Ingress;
  egress: EgressListeners;
  mirrorWatcher: MirrorWatcher;
  /** Stops everything once drained. */
  stop: () => Promise<void>;
}

/** The shutdown of RunningGateway: every call gets the one drain. */
export function gracefulShutdown(ctx: GatewayContext, parts: DrainedParts): () => Promise<void> {
  const { config, log } = ctx;
  const { state, ingress, egress, mirrorWatcher, stop } = parts;
  let shuttingDown: Promise<void> | undefined;
  return () => {
    shuttingDown ??= (async () => {
      const { drainDelayMs, graceMs } = config.shutdown;
      const started = Date.now();
      state.draining = true;
      ctx.refresh();
      log.info(
        { tunnels: ingress.openTunnels() + egress.openTunnels(), drainDelayMs, graceMs },
        'shutting down: not ready, draining',
      );
      await delay(drainDelayMs);
      await mirrorWatcher.close();
      const left = Math.max(0, graceMs - (Date.now() - started));
      const [cutIn, cutOut] = await Promise.all([ingress.close(left), egress.close(left)]);
      if (cutIn + cutOut > 0)
        log.warn({ ingress: cutIn, egress: cutOut }, 'grace period over: connections cut');
      else log.info('drained: every tunnel finished');
      await stop();
    })();
    return shuttingDown;
  };
}
