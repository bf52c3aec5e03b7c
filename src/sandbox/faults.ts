/**
 * Fault injection for tests: added latency, the next N requests failing with 500 or 429, and
 * (in server.ts) dropping watches and going offline. A 429 carries Retry-After as kube-apiserver's
 * max-in-flight filter sends it.
 */
import { type ApiError, internalError, tooManyRequests } from './api-status.js';

export class FaultState {
  delayMs = 0;
  private failRemaining = 0;
  private failStatus: 500 | 429 = 500;

  failNext(n: number, status: 500 | 429): void {
    this.failRemaining = Math.max(0, Math.floor(n));
    this.failStatus = status;
  }

  /** The injected failure for this request, if one is due (consumes it). */
  takeFailure(): ApiError | undefined {
    if (this.failRemaining <= 0) return undefined;
    this.failRemaining--;
    return this.failStatus === 429 ? tooManyRequests(1) : internalError('injected fault');
  }
}
