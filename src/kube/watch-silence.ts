/**
 * How long one watch connection may stay silent before it is taken for dead.
 *
 * client-go learns that a watch's connection died from HTTP/2 pings on that very connection. Our
 * watches are HTTP/1.1, one connection each, and the client's health check (`GET /version`) goes
 * over another connection, so it proves the server alive but not this watch: a connection a NAT,
 * conntrack or load balancer dropped without a reset stays "open" and silent while every new
 * request works. The signal a watch does carry is the server's periodic bookmark: kube-apiserver
 * sends one to every watch that asked for them about once a minute (the watch cache's
 * `defaultBookmarkFrequency`) once its resource has changed since the watch began (a bookmark
 * older than the watch's start is not sent), and from then on events or not. Once a watch has
 * shown that rhythm, a silence of a few periods means the connection is gone, long before the
 * watch's own end (5–10 minutes). A quiet resource may send none for minutes: the first gap
 * counts, so a late first bookmark leaves the bound at the base.
 *
 * Servers that send bookmarks only just before a watch's end (older ones) show no rhythm: the
 * first gap is the whole watch, and the bound stays the base one.
 */

/** Silences this many bookmark periods long mean a dead connection. */
export const SILENT_PERIODS = 3;

/** Never cut a watch for a silence shorter than this, however often its server sends bookmarks. */
export const DEFAULT_SILENCE_FLOOR_MS = 30_000;

/**
 * The silence after which a watch's connection is taken for dead: `baseMs` (the watch's end plus a
 * margin) until a bookmark period has been seen, then `SILENT_PERIODS` of the longest period seen,
 * no less than `floorMs` and no more than `baseMs`.
 */
export function silenceBoundMs(
  bookmarkPeriodMs: number | undefined,
  baseMs: number,
  floorMs: number,
): number {
  if (bookmarkPeriodMs === undefined) return baseMs;
  return Math.min(baseMs, Math.max(floorMs, SILENT_PERIODS * bookmarkPeriodMs));
}

/**
 * Follows one watch's traffic: `received()` on every chunk, `bookmark()` on every BOOKMARK line.
 * The bookmark period is the longest gap between the watch's start or a bookmark and the next
 * bookmark: the longest is kept so that one early bookmark cannot tighten the bound for good.
 */
export class WatchSilence {
  private lastReceived: number;
  private lastBookmark: number;
  private periodMs: number | undefined;

  constructor(
    private readonly baseMs: number,
    private readonly floorMs: number,
    now: number,
  ) {
    this.lastReceived = now;
    this.lastBookmark = now;
  }

  received(now: number): void {
    this.lastReceived = now;
  }

  bookmark(now: number): void {
    const gap = now - this.lastBookmark;
    this.periodMs = this.periodMs === undefined ? gap : Math.max(this.periodMs, gap);
    this.lastBookmark = now;
  }

  /** The bound in force now. */
  get boundMs(): number {
    return silenceBoundMs(this.periodMs, this.baseMs, this.floorMs);
  }

  /** The bookmark period seen so far, if any. */
  get bookmarkPeriodMs(): number | undefined {
    return this.periodMs;
  }

  /**
   * Dead: bookmarks have shown the rhythm and nothing came for the bound. Without a rhythm the
   * base bound is the transport's to enforce (its body timeout), with its own message.
   */
  dead(now: number): boolean {
    return this.periodMs !== undefined && now - this.lastReceived >= this.boundMs;
  }

  /**
   * When to look again: at the bound if nothing arrives, and at least every floor, since a bookmark
   * arriving meanwhile can tighten the bound below the time left.
   */
  nextCheckMs(now: number): number {
    return Math.max(1, Math.min(this.lastReceived + this.boundMs - now, this.floorMs));
  }
}
