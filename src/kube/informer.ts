/**
 * A list-watch cache in the manner of client-go's Reflector + Informer: list, then watch from the
 * list's resourceVersion with bookmarks; resume a dropped watch from the last version seen; relist
 * on 410 Gone and emit the difference; back off with full jitter on errors.
 *
 * A server whose history went back (etcd restored without --bump-revision) would accept a watch
 * from our newer version and keep it silent until it got there, our cache stale meanwhile. So a
 * watch that ended as an API server restart ends it (a broken connection, an error), or without a
 * line showing the server at our version, is resumed only after a one-item list from our version
 * shows the server has reached it; its 504 ResourceVersionTooLarge, from a list or a watch, and a
 * version below ours on a watch, make us relist from scratch as client-go's reflector does on that
 * 504. A watch the server ended at its timeout after such a line needs no check: one per informer
 * every 5–10 minutes would cost a kube <= 1.32 server an etcd read (see listResourceVersion). Not
 * caught, as by client-go: a server restored without --bump-revision that has passed our version
 * again by the time we resume (etcd's restore procedure asks for --bump-revision --mark-compacted,
 * under which every watch gets 410 and relists).
 *
 * Handlers get events for an always-consistent cache and are expected to be level-triggered
 * (STYLE.md §2).
 */
import diagnostics from 'node:diagnostics_channel';
import type { Readable } from 'node:stream';
import { IsthmusError } from '../errors.js';
import { Backoff, type BackoffPolicy, DEFAULT_BACKOFF } from './backoff.js';
import type { KubeClient } from './client.js';
import { errorFromTransport, errorFromWatchStatus, isGone, isTooLargeResourceVersion } from './errors.js';
import {
  type InformerEvent,
  InformerStore,
  isBefore,
  revisionOf,
  type WatchEventType,
} from './informer-store.js';
import { abortableDelay } from './rate-limiter.js';
import { type ResourceRef, resourcePath } from './resources.js';
import type { KubeObject } from './types.js';
import { DEFAULT_SILENCE_FLOOR_MS, WatchSilence } from './watch-silence.js';

export type { InformerEvent } from './informer-store.js';

export interface InformerHealth {
  connected: boolean;
  lastError?: unknown;
}

export interface Informer<T extends KubeObject> {
  start(): void;
  /** Ends the watch, timers and sleeps; resolves once nothing more can fire. */
  stop(): Promise<void>;
  /** Resolves after the first complete list; rejects only when stopped before that. */
  readonly synced: Promise<void>;
  hasSynced(): boolean;
  list(): T[];
  get(namespace: string | undefined, name: string): T | undefined;
  onEvent(handler: (e: InformerEvent<T>) => void): () => void;
  /** connected=false while list/watch fails; reported on every change. */
  onHealth(handler: (h: InformerHealth) => void): () => void;
  readonly resourceVersion: string;
}

export interface InformerOptions<T extends KubeObject = KubeObject> {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-emit every cached object as `update` (old === object) this often; 0/absent: never. */
  resyncMs?: number;
  backoff?: BackoffPolicy;
  /** Server-side watch timeout; default 5–10 min randomised, as client-go, to spread reconnects. */
  watchTimeoutSeconds?: number;
  /** List page size. */
  pageSize?: number;
  /**
   * Applied to every listed or watched object before it is cached or emitted (client-go's
   * SetTransform): drop what no handler reads, so a large cache holds only that. Must keep
   * metadata.name/namespace/resourceVersion; may mutate and return its argument (it is a fresh parse).
   */
  transform?: (obj: T) => T;
  /**
   * The shortest silence that ends a watch whose server sends periodic bookmarks (watch-silence.ts);
   * default 30 s. Tests lower it.
   */
  watchSilenceFloorMs?: number;
}

/** Published when a handler throws: the informer keeps going, observers can log it. */
export const handlerErrorChannel = diagnostics.channel('isthmus:kube:informer-handler-error');
/** Published on every health change: `{ resource, connected, lastError }`. */
export const healthChannel = diagnostics.channel('isthmus:kube:informer-health');

/** A watch line below our resourceVersion: the server's history went back. */
class HistoryRewound extends IsthmusError {
  constructor(path: string, version: string, ours: string) {
    super(
      'KUBE_GONE',
      `WATCH ${path}: resourceVersion ${version} is below ${ours}, already seen: the server's history went back (etcd restored?)`,
    );
  }
}

/** The server has lost history we saw: only a relist from scratch recovers, and its versions prove nothing. */
function isHistoryLost(err: unknown): boolean {
  return err instanceof HistoryRewound || isTooLargeResourceVersion(err);
}

interface WatchLine {
  type?: WatchEventType;
  object?: KubeObject;
}

/** How a watch ended, when it did not fail. */
export interface WatchEnd {
  /** The server ended it (timeoutSeconds, or its own reasons), not a broken connection. */
  clean: boolean;
  /** It carried a bookmark or an event with a resourceVersion (never below ours: that throws). */
  reachedOurVersion: boolean;
}

/**
 * Whether a watch resumed after `end` (undefined: the watch or the check before it failed) must
 * first check that the server has reached our version. Only a clean end after a line at or above
 * our version shows the server we resume against is the one that was there; a restart (what an
 * etcd restore takes) breaks connections, and a server behind us keeps our watch silent.
 */
export function resumeNeedsCheck(end: WatchEnd | undefined): boolean {
  return end === undefined || !end.clean || !end.reachedOurVersion;
}

class ListWatchInformer<T extends KubeObject> implements Informer<T> {
  readonly synced: Promise<void>;
  private readonly store = new InformerStore<T>();
  private readonly handlers = new Set<(e: InformerEvent<T>) => void>();
  private readonly healthHandlers = new Set<(h: InformerHealth) => void>();
  private readonly abort = new AbortController();
  private readonly backoff: Backoff;
  private rv = '';
  /** `rv` parsed (informer-store.ts revisionOf), compared with every watch line's. */
  private revision: bigint | null = null;
  /** The current watch carried a line with a resourceVersion. */
  private reachedOurVersion = false;
  private started = false;
  private stopped = false;
  private isSynced = false;
  private connected: boolean | undefined;
  /** failureKind of the error last reported while disconnected. */
  private failure: string | undefined;
  private loop: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private resolveSynced!: () => void;
  private rejectSynced!: (err: unknown) => void;

  constructor(
    private readonly client: KubeClient,
    private readonly res: ResourceRef,
    private readonly opts: InformerOptions<T>,
  ) {
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF);
    this.synced = new Promise<void>((resolve, reject) => {
      this.resolveSynced = resolve;
      this.rejectSynced = reject;
    });
    // Nobody may be awaiting `synced` when stop() rejects it; that must not crash the process.
    this.synced.catch(() => {});
  }

  get resourceVersion(): string {
    return this.rv;
  }

  hasSynced(): boolean {
    return this.isSynced;
  }

  list(): T[] {
    return this.store.list();
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(this.res.namespaced ? namespace : undefined, name);
  }

  onEvent(handler: (e: InformerEvent<T>) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onHealth(handler: (h: InformerHealth) => void): () => void {
    this.healthHandlers.add(handler);
    return () => this.healthHandlers.delete(handler);
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.loop = this.run();
    const resyncMs = this.opts.resyncMs ?? 0;
    if (resyncMs > 0) this.resyncTimer = setInterval(() => this.resync(), resyncMs);
  }

  async stop(): Promise<void> {
    if (this.stopped) return this.loop;
    this.stopped = true;
    clearInterval(this.resyncTimer);
    this.abort.abort(new IsthmusError('KUBE_REQUEST_FAILED', 'informer stopped'));
    if (!this.isSynced)
      this.rejectSynced(new IsthmusError('KUBE_REQUEST_FAILED', 'informer stopped before sync'));
    await this.loop;
  }

  private emit(e: InformerEvent<T>): void {
    for (const h of this.handlers) {
      if (this.stopped) return;
      try {
        h(e);
      } catch (err) {
        handlerErrorChannel.publish({ resource: this.res.plural, event: e.type, error: err });
      }
    }
  }

  private setHealth(connected: boolean, lastError?: unknown): void {
    if (this.stopped) return;
    // While failing, a new kind of failure is news too: an API server unreachable at start, then
    // a 403 once it answers, must not leave the first reason standing.
    const kind = connected ? undefined : failureKind(lastError);
    if (this.connected === connected && this.failure === kind) return;
    this.connected = connected;
    this.failure = kind;
    const h: InformerHealth = connected ? { connected } : { connected, lastError };
    healthChannel.publish({ resource: this.res.plural, ...h });
    for (const handler of this.healthHandlers) handler(h);
  }

  private resync(): void {
    if (!this.isSynced || this.stopped) return;
    for (const object of this.store.list()) this.emit({ type: 'update', object, old: object });
  }

  private async run(): Promise<void> {
    let needList = true;
    let historyLost = false;
    let lastWasGone = false;
    let checkBeforeResume = false;
    // A closed client cannot recover; the owner forgot to stop us first, so end quietly.
    while (!this.stopped && !this.client.closed) {
      try {
        if (needList) {
          await this.relist(!historyLost);
          needList = false;
          historyLost = false;
        } else if (checkBeforeResume) {
          await this.checkServerReached();
        }
        const { events, ms, end } = await this.watchOnce();
        checkBeforeResume = resumeNeedsCheck(end);
        lastWasGone = false;
        // A watch the server ends at once, repeatedly, must not become a hot loop.
        if (events === 0 && ms < 1000) await this.sleep(this.backoff.next());
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err) || isTooLargeResourceVersion(err)) {
          // Our resourceVersion left the server's window, or the server's history went back
          // below it: relist now (once), and diff.
          needList = true;
          historyLost ||= isHistoryLost(err);
          if (lastWasGone) await this.sleep(this.backoff.next());
          lastWasGone = true;
          continue;
        }
        // The watch, or the check before it, failed: a restarted server, maybe another history.
        checkBeforeResume = resumeNeedsCheck(undefined);
        this.setHealth(false, err);
        await this.sleep(this.backoff.next());
      }
    }
  }

  private async sleep(ms: number): Promise<void> {
    await abortableDelay(ms, this.abort.signal).catch(() => {});
  }

  /**
   * Before a watch resumes from our version: the server has reached it (a one-item list from it;
   * kube-apiserver answers 504 ResourceVersionTooLarge when it is behind, after waiting up to 3 s).
   */
  private async checkServerReached(): Promise<void> {
    await this.client.listResourceVersion(this.res, {
      namespace: this.opts.namespace,
      fieldSelector: this.opts.fieldSelector,
      resourceVersion: this.rv,
      signal: this.abort.signal,
    });
  }

  /** `trustResourceVersions`: false after lost history (InformerStore.replace). */
  private async relist(trustResourceVersions = true): Promise<void> {
    const { items, resourceVersion } = await this.client.list<T>(this.res, {
      namespace: this.opts.namespace,
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
      // Pages, not client-go's unpaged resourceVersion=0 first list: four concurrent lists of 5,000
      // objects in one answer each raised the controller's peak RSS past 250 MB (mirror benchmark).
      limit: this.opts.pageSize ?? 500,
      signal: this.abort.signal,
      ...(this.opts.transform ? { transform: (i: KubeObject) => this.transformed(i as T) } : {}),
    });
    if (this.stopped) return;
    const events = this.store.replace(items, { trustResourceVersions });
    this.setResourceVersion(resourceVersion);
    this.setHealth(true);
    this.backoff.reset();
    const first = !this.isSynced;
    this.isSynced = true;
    for (const e of events) this.emit(e);
    if (first) this.resolveSynced();
  }

  private setResourceVersion(version: string, revision = revisionOf(version)): void {
    this.rv = version;
    this.revision = revision;
  }

  private transformed(obj: T): T {
    return this.opts.transform ? this.opts.transform(obj) : obj;
  }

  private watchTimeout(): number {
    return this.opts.watchTimeoutSeconds ?? Math.floor(300 * (1 + Math.random()));
  }

  /** One watch until it ends; counts applied events. Throws on 410 and on errors. */
  private async watchOnce(): Promise<{ events: number; ms: number; end: WatchEnd }> {
    const start = performance.now();
    const timeoutSeconds = this.watchTimeout();
    const idleTimeoutMs = (timeoutSeconds + 60) * 1000;
    const stream = await this.client.watch(this.res, {
      namespace: this.opts.namespace,
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
      resourceVersion: this.rv,
      timeoutSeconds,
      idleTimeoutMs,
      signal: this.abort.signal,
    });
    this.setHealth(true);
    this.reachedOurVersion = false;
    let consumed: { events: number; clean: boolean };
    try {
      consumed = await this.consume(stream, idleTimeoutMs);
    } finally {
      stream.destroy();
    }
    const { events, clean } = consumed;
    if (events > 0) this.backoff.reset();
    return {
      events,
      ms: performance.now() - start,
      end: { clean, reachedOurVersion: this.reachedOurVersion },
    };
  }

  /** Applies the stream's lines; `clean`: the server ended it (not a broken connection). */
  private async consume(
    stream: Readable,
    idleTimeoutMs: number,
  ): Promise<{ events: number; clean: boolean }> {
    // Lines are cut from the raw bytes ('\n' never occurs inside a UTF-8 sequence) and decoded
    // once each: no decoder state, no string concatenation per chunk.
    let partial: Buffer[] = [];
    let events = 0;
    const silence = new WatchSilence(
      idleTimeoutMs,
      this.opts.watchSilenceFloorMs ?? DEFAULT_SILENCE_FLOOR_MS,
      performance.now(),
    );
    const stopWatching = this.watchForSilence(stream, silence);
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        silence.received(performance.now());
        let start = 0;
        for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
          let line: string;
          if (partial.length > 0) {
            partial.push(chunk.subarray(0, nl));
            line = Buffer.concat(partial).toString('utf8');
            partial = [];
          } else {
            line = chunk.toString('utf8', start, nl);
          }
          start = nl + 1;
          const type = line.trim() === '' ? undefined : this.handleLine(line);
          if (type === 'BOOKMARK') silence.bookmark(performance.now());
          else if (type !== undefined) events++;
          if (this.stopped) return { events, clean: true };
        }
        if (start < chunk.length) partial.push(chunk.subarray(start));
      }
    } catch (err) {
      // The client's health check found the server hung (request-pipeline.ts), or a bad line.
      if (err instanceof IsthmusError) throw err;
      // Silent past the end the server was asked for: not a server ending the watch, a dead
      // connection. Said (the informer is disconnected) rather than resumed quietly.
      if ((err as { code?: unknown }).code === 'UND_ERR_BODY_TIMEOUT')
        throw new IsthmusError(
          'KUBE_API_UNAVAILABLE',
          `WATCH ${resourcePath(this.res, this.opts.namespace)}: nothing received for ${idleTimeoutMs / 1000} s, past the watch's timeoutSeconds: connection taken for dead`,
          { cause: err },
        );
      // The connection broke mid-stream (server restart, dropped watch): resume from the last
      // version seen, after checking the server has it. A failing resume reports the error.
      return { events, clean: false };
    } finally {
      stopWatching();
    }
    return { events, clean: true };
  }

  /**
   * Ends `stream` with an error once it has been silent past `silence`'s bound, which tightens once
   * the server's bookmark rhythm is known. One timer per watch, firing at most once per floor, so a
   * busy watch costs a timestamp per chunk. Returns the function that stops watching.
   */
  private watchForSilence(stream: Readable, silence: WatchSilence): () => void {
    let timer: NodeJS.Timeout | undefined;
    const check = (): void => {
      const now = performance.now();
      if (!silence.dead(now)) {
        timer = setTimeout(check, silence.nextCheckMs(now));
        return;
      }
      stream.destroy(
        new IsthmusError(
          'KUBE_API_UNAVAILABLE',
          `WATCH ${resourcePath(this.res, this.opts.namespace)}: nothing received for ${seconds(silence.boundMs)} s on a watch whose server sent a bookmark at least every ${seconds(silence.bookmarkPeriodMs ?? 0)} s: connection taken for dead`,
        ),
      );
    };
    timer = setTimeout(check, silence.nextCheckMs(performance.now()));
    return () => clearTimeout(timer);
  }

  /** Applies one watch line; returns its type when it was an object event or a bookmark. */
  private handleLine(line: string): WatchEventType | undefined {
    let ev: WatchLine;
    try {
      ev = JSON.parse(line) as WatchLine;
    } catch (err) {
      throw errorFromTransport(err, { method: 'WATCH', path: resourcePath(this.res, this.opts.namespace) });
    }
    const version = ev.object?.metadata?.resourceVersion;
    // Parsed once per line; ours is kept parsed.
    const revision = version && ev.type !== 'ERROR' ? revisionOf(version) : null;
    if (version && ev.type !== 'ERROR') {
      // A version below ours, from a bookmark or an event, would take the cache back in history.
      if (isBefore(revision, this.revision))
        throw new HistoryRewound(resourcePath(this.res, this.opts.namespace), version, this.rv);
      this.reachedOurVersion = true;
    }
    switch (ev.type) {
      case 'BOOKMARK':
        if (version) this.setResourceVersion(version, revision);
        return 'BOOKMARK';
      case 'ERROR':
        throw errorFromWatchStatus(ev.object, resourcePath(this.res, this.opts.namespace));
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED': {
        if (!ev.object) return undefined;
        const e = this.store.apply(ev.type, this.transformed(ev.object as T));
        if (version) this.setResourceVersion(version, revision);
        if (e) this.emit(e);
        return ev.type;
      }
      default:
        return undefined;
    }
  }
}

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

export function createInformer<T extends KubeObject>(
  client: KubeClient,
  res: ResourceRef,
  opts: InformerOptions<T> = {},
): Informer<T> {
  return new ListWatchInformer<T>(client, res, opts);
}

/** An error's kind, not its text (which may carry changing details): its code and, if any, HTTP status. */
function failureKind(err: unknown): string {
  if (err === null || typeof err !== 'object') return String(err);
  const { code, status, statusCode } = err as { code?: unknown; status?: unknown; statusCode?: unknown };
  return `${err.constructor?.name}:${String(code)}:${String(status ?? statusCode)}`;
}
