/**
 * What a gateway has started, closed in reverse order: what started last depends on what started
 * before it. A failing close is logged and the rest still close.
 */
import type { Logger } from 'pino';
import { describeError } from '../errors.js';

export class StopList {
  private readonly closers: Array<{ what: string; close: () => unknown }> = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  /** `close` runs at stop(), after everything added after it has closed. */
  add(what: string, close: () => unknown): void {
    this.closers.push({ what, close });
  }

  /** Closes everything; safe to call more than once (every call gets the same promise). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const { what, close } of this.closers.reverse()) {
        try {
          await close();
        } catch (err) {
          this.log.warn({ err: describeError(err) }, `closing ${what} failed`);
        }
      }
    })();
    return this.stopping;
  }
}
