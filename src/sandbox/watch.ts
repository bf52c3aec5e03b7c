/**
 * WATCH streams (apiserver `endpoints/handlers/watch.go` over the watch cache): newline-delimited
 * JSON events; without a resourceVersion (or with "0") synthetic ADDED events for the current
 * state first; from a resourceVersion, a replay of the retained log or one ERROR event carrying a
 * 410 Expired Status; selector transitions as the cacher reports them (leaving → DELETED, entering
 * → ADDED); BOOKMARKs on request; the stream ends at timeoutSeconds.
 *
 * A watch from a resourceVersion the server has not reached (its etcd restored without
 * --bump-revision) is accepted and stays silent until the server passes it: the cacher's watcher
 * sends only events, bookmarks included, newer than the version asked for (cache_watcher.go
 * `process`), and only a watch-list request (sendInitialEvents) waits for it and fails with 504.
 */
import type { ServerResponse } from 'node:http';
import { ApiError, badRequest } from './api-status.js';
import { matches, type Selectors } from './list.js';
import { asServed } from './object-meta.js';
import type { ResourceType } from './resource-types.js';
import { apiVersionOf, resourceKey } from './resource-types.js';
import type { EventType, KObj, ObjectStore, StoreEvent } from './store.js';

export interface WatchParams {
  rt: ResourceType;
  version: string;
  namespace: string | undefined;
  selectors: Selectors;
  resourceVersion: string | undefined;
  allowBookmarks: boolean;
  timeoutSeconds: number | undefined;
  /** Turns a served object into what goes on the wire (a Table row when kubectl asks for one). */
  encode?: (obj: KObj) => unknown;
  /** The bookmark object for a resourceVersion, when the objects are transformed (PartialObjectMetadata). */
  bookmark?: (resourceVersion: string) => unknown;
}

type WireType = EventType | 'BOOKMARK' | 'ERROR';

/** The default --min-request-timeout a watch without timeoutSeconds gets (1800 s in kube-apiserver). */
const DEFAULT_WATCH_TIMEOUT_S = 1800;

/**
 * The encoded lines of the event being delivered, by `type version`: kube-apiserver serialises an
 * event once for all its watchers (the watch cache's cachingObject), so N watchers of a resource
 * cost one encoding. One slot: the store delivers an event to every watcher before the next, and
 * keeping encodings of the whole retained log would cost more memory (and GC) than it saves.
 */
let memo: { ev: StoreEvent; lines: Map<string, string> } | undefined;

function encodeOnce(ev: StoreEvent, type: EventType, version: string, encode: () => string): string {
  if (memo?.ev !== ev) memo = { ev, lines: new Map() };
  const key = `${type} ${version}`;
  const line = memo.lines.get(key) ?? encode();
  memo.lines.set(key, line);
  return line;
}

/** The served form on the wire: apiVersion and kind of the requested version; no copy is kept. */
function servedLine(type: WireType, rt: ResourceType, obj: KObj, version: string): string {
  return `${JSON.stringify({ type, object: { ...obj, apiVersion: apiVersionOf(rt.group, version), kind: rt.kind } })}\n`;
}

export class WatchHub {
  private readonly sessions = new Set<() => void>();

  constructor(
    private readonly store: ObjectStore,
    private readonly bookmarkIntervalMs: number,
  ) {}

  get open(): number {
    return this.sessions.size;
  }

  /** Closes every open watch (clients see the stream end and must re-watch). */
  dropAll(): void {
    for (const end of [...this.sessions]) end();
  }

  /** Validates the request, then takes over the response. Throws ApiError before any byte is written. */
  serve(res: ServerResponse, p: WatchParams): void {
    const key = resourceKey(p.rt.group, p.rt.plural);
    const fromRv =
      p.resourceVersion === undefined || p.resourceVersion === '' || p.resourceVersion === '0'
        ? undefined
        : Number(p.resourceVersion);
    if (fromRv !== undefined && !Number.isInteger(fromRv))
      throw badRequest(`invalid resource version: ${p.resourceVersion}`);
    const timeout = p.timeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_S;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();

    // Events of one burst leave in one write, as kube-apiserver flushes only when no further event
    // is queued: a burst is everything written until the event loop's check phase (one store
    // transaction, a replay, every request read in the same poll).
    let corked = false;
    const write = (line: string) => {
      if (res.writableEnded) return;
      if (!corked) {
        corked = true;
        res.cork();
        setImmediate(() => {
          corked = false;
          res.uncork();
        });
      }
      res.write(line);
    };
    const send = (type: WireType, object: unknown) => write(`${JSON.stringify({ type, object })}\n`);
    const sendObject = (type: EventType, obj: KObj, ev?: StoreEvent) => {
      if (p.encode) send(type, p.encode(asServed(p.rt, obj, p.version)));
      else if (ev) write(encodeOnce(ev, type, p.version, () => servedLine(type, p.rt, obj, p.version)));
      else write(servedLine(type, p.rt, obj, p.version));
    };
    const inScope = (o: KObj | undefined) =>
      o !== undefined &&
      (p.namespace === undefined || o.metadata.namespace === p.namespace) &&
      matches(p.selectors, o);
    const deliver = (ev: StoreEvent) => {
      if (ev.key !== key || (fromRv !== undefined && ev.rv <= fromRv)) return;
      const now = inScope(ev.obj);
      const before = ev.type === 'MODIFIED' ? inScope(ev.prev) : now;
      let type: EventType | undefined;
      if (ev.type === 'MODIFIED')
        type = now && before ? 'MODIFIED' : now ? 'ADDED' : before ? 'DELETED' : undefined;
      else if (now) type = ev.type;
      if (type) sendObject(type, ev.obj, ev);
    };

    let unsubscribe = () => {};
    const timers: NodeJS.Timeout[] = [];
    const end = () => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      this.sessions.delete(end);
      if (res.writableEnded) return;
      // Flush a pending burst first: on Node 22 and 24, end() after flushHeaders() loses what is corked.
      if (corked) {
        corked = false;
        res.uncork();
      }
      res.end();
    };
    this.sessions.add(end);
    res.on('close', end);

    if (fromRv === undefined) {
      for (const o of this.store.list(key, p.namespace)) if (matches(p.selectors, o)) sendObject('ADDED', o);
    } else {
      try {
        for (const ev of this.store.eventsSince(key, fromRv)) deliver(ev);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        // kube-apiserver answers 200 and reports the expiry in-band (watch.go: ERROR event, 410 Expired).
        send('ERROR', err.toStatus());
        end();
        return;
      }
    }
    unsubscribe = this.store.subscribe(deliver);
    timers.push(setTimeout(end, timeout * 1000));
    if (p.allowBookmarks) {
      // Never a bookmark below the version asked for: it would take the client back in history.
      const tick = () => {
        const current = this.store.currentRv();
        const resourceVersion = String(current);
        if (fromRv === undefined || current >= fromRv)
          send(
            'BOOKMARK',
            p.bookmark?.(resourceVersion) ?? {
              kind: p.rt.kind,
              apiVersion: apiVersionOf(p.rt.group, p.version),
              metadata: { resourceVersion },
            },
          );
        timers[1] = setTimeout(tick, this.bookmarkIntervalMs);
      };
      timers[1] = setTimeout(tick, this.bookmarkIntervalMs);
    }
  }
}
