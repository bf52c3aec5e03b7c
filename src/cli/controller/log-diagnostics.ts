/**
 * The controller process's log of what its parts only publish (STYLE.md §9): a failover or
 * federation reconcile that failed (it is retried with backoff; the counters say how often, this
 * says why), an informer handler that threw, and an Event that could not be written. Without it
 * those reasons reached no one outside the tests. Also, at info, that the TrafficSplit CRD has no
 * status subresource (linkerd-smi's): not a failure, but why the splits show no status.
 */
import type { Channel } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import { describeError } from '../../errors.js';
import { reconcileErrorChannel } from '../../failover/controller.js';
import { statusUnsupportedChannel } from '../../failover/split-writes.js';
import { federationErrorChannel } from '../../federation/controller.js';
import { eventErrorChannel } from '../../kube/events.js';
import { handlerErrorChannel } from '../../kube/informer.js';

type Message = { error?: unknown } & Record<string, unknown>;

/** Subscribes `log` to those channels; returns the unsubscribe. */
export function logControllerDiagnostics(log: Logger): () => void {
  const subscriptions: Array<[Channel, string, string]> = [
    [reconcileErrorChannel, 'failover', 'TrafficSplit reconcile failed; retrying'],
    [federationErrorChannel, 'federation', 'federated Service reconcile failed; retrying'],
    [handlerErrorChannel, 'informer', 'an informer event handler threw'],
    [eventErrorChannel, 'events', 'a Kubernetes Event could not be written'],
  ];
  const handlers = subscriptions.map(([channel, part, text]) => {
    const handler = (raw: unknown): void => {
      const { error, ...fields } = raw as Message;
      log.warn({ part, ...fields, err: describeError(error) }, text);
    };
    channel.subscribe(handler);
    return () => channel.unsubscribe(handler);
  });
  // Published once per controller run: every later split's status is kept in memory only.
  const statusless = (raw: unknown): void => {
    const { key } = raw as { key?: string };
    log.info(
      { part: 'failover', key },
      'the TrafficSplit CRD has no status subresource: failover works on without writing status; its state is kept in memory only',
    );
  };
  statusUnsupportedChannel.subscribe(statusless);
  handlers.push(() => statusUnsupportedChannel.unsubscribe(statusless));
  return () => {
    for (const unsubscribe of handlers) unsubscribe();
  };
}
