/**
 * Kubernetes Events (core/v1) for the objects controllers act on, so `kubectl describe link`
 * shows why a service was skipped. As client-go's EventCorrelator:
 * - repeats are aggregated: the same (object, type, reason, message) bumps `count` and
 *   `lastTimestamp` of the first Event instead of creating another;
 * - spam is filtered per object: a burst of 25, then one every 5 minutes. A Link whose thousands
 *   of remote Services all lack their namespace would otherwise write thousands of Events at one
 *   initial sync (the log and the Link's status still name every one).
 * Recording never throws: an Event is a courtesy, not part of reconciliation.
 */
import diagnostics from 'node:diagnostics_channel';
import { isIsthmusError } from '../errors.js';
import type { KubeClient } from './client.js';
import { isNotFound } from './errors.js';
import { R } from './resources.js';
import type { CoreV1Event, KubeObject } from './types.js';

export type EventType = 'Normal' | 'Warning';

/** Published when an Event could not be written: `{ reason, error }`. */
export const eventErrorChannel = diagnostics.channel('isthmus:kube:event-error');

/** Bounded memory of recent events, like client-go's LRU of 4096 entries. */
const MAX_TRACKED = 4096;
/** client-go's defaultSpamBurst and defaultSpamQPS (1/300 s). */
export const SPAM_BURST = 25;
export const SPAM_REFILL_MS = 300_000;

interface Bucket {
  tokens: number;
  at: number;
}

interface Tracked {
  namespace: string;
  name: string;
  count: number;
}

export interface EventRecorderOptions {
  /** `source.component`, e.g. `isthmus-mirror`. */
  component: string;
  host?: string;
  /** Called with write failures in addition to the diagnostics channel (e.g. a logger). */
  onError?: (err: unknown) => void;
  /** The clock of the spam filter (tests); default Date.now. */
  now?: () => number;
}

export class EventRecorder {
  private readonly tracked = new Map<string, Tracked>();
  /** Spam filter: tokens per involved object, as client-go's EventSourceObjectSpamFilter. */
  private readonly buckets = new Map<string, Bucket>();
  /** Writes for the same key are serialised so a burst of repeats cannot create duplicates. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly client: KubeClient,
    private readonly opts: EventRecorderOptions,
  ) {}

  /** Resolves when the write finished or failed; never rejects. */
  record(object: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const meta = object.metadata ?? {};
    if (
      !this.admit([meta.uid ?? '', object.kind ?? '', meta.namespace ?? '', meta.name ?? ''].join('\u0000'))
    ) {
      return Promise.resolve();
    }
    const key = [
      meta.uid ?? '',
      object.kind ?? '',
      meta.namespace ?? '',
      meta.name ?? '',
      type,
      reason,
      message,
    ].join('\u0000');
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.write(key, object, type, reason, message));
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return next;
  }

  private async write(
    key: string,
    object: KubeObject,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    try {
      const seen = this.tracked.get(key);
      if (seen) {
        try {
          await this.client.patch(R.events, seen.namespace, seen.name, {
            count: seen.count + 1,
            lastTimestamp: now,
          });
          seen.count++;
          this.remember(key, seen);
          return;
        } catch (err) {
          // The Event expired (the API server's TTL is 1h): start a new one.
          if (!isNotFound(err)) throw err;
          this.tracked.delete(key);
        }
      }
      const created = await this.client.create<CoreV1Event>(
        R.events,
        this.build(object, type, reason, message, now),
      );
      this.remember(key, {
        namespace: created.metadata?.namespace ?? '',
        name: created.metadata?.name ?? '',
        count: created.count ?? 1,
      });
    } catch (err) {
      // A follower's Event, or a leader's past its term (fencedWrites): not written, by design.
      if (!isIsthmusError(err, 'NOT_LEADER')) eventErrorChannel.publish({ reason, error: err });
      this.opts.onError?.(err);
    }
  }

  /** Takes a token of the object's bucket, refilled one per SPAM_REFILL_MS up to SPAM_BURST. */
  private admit(object: string): boolean {
    const now = (this.opts.now ?? Date.now)();
    const b = this.buckets.get(object) ?? { tokens: SPAM_BURST, at: now };
    b.tokens = Math.min(SPAM_BURST, b.tokens + (now - b.at) / SPAM_REFILL_MS);
    b.at = now;
    // A Map keeps insertion order: re-inserting makes it an LRU (client-go's is one), so a busy
    // object is not forgotten, its burst refilled, while thousands of others pass through.
    if (!this.buckets.delete(object) && this.buckets.size >= MAX_TRACKED) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    this.buckets.set(object, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private remember(key: string, t: Tracked): void {
    if (!this.tracked.delete(key) && this.tracked.size >= MAX_TRACKED) {
      const oldest = this.tracked.keys().next().value;
      if (oldest !== undefined) this.tracked.delete(oldest);
    }
    this.tracked.set(key, t);
  }

  private build(
    object: KubeObject,
    type: EventType,
    reason: string,
    message: string,
    now: string,
  ): CoreV1Event {
    const meta = object.metadata ?? {};
    // Events of cluster-scoped objects live in `default`, as client-go's recorder puts them.
    const namespace = meta.namespace || 'default';
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        // client-go names events <object>.<unix nanos in hex>; unique enough without a round trip.
        name: `${meta.name ?? 'unknown'}.${(BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`,
        namespace,
      },
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
      },
      type,
      reason,
      // events.k8s.io/v1 caps `note` at 1 kB; core Events are kept within the same bound.
      message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
      count: 1,
      firstTimestamp: now as unknown as Date,
      lastTimestamp: now as unknown as Date,
      source: { component: this.opts.component, host: this.opts.host },
      reportingComponent: this.opts.component,
      reportingInstance: this.opts.host ?? '',
    };
  }
}
