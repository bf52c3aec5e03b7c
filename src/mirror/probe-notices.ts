/**
 * At what level the probe worker's news is logged. Pure: the watcher logs.
 */
import type { GatewayAlive } from './plan-mirror.js';

export type LogLevel = 'debug' | 'info' | 'warn';

/** Dead takes the mirrors' endpoints out of service, which pages: a warning (with why). */
export function livenessLevel(alive: GatewayAlive): LogLevel {
  return alive === false ? 'warn' : 'info';
}

/**
 * This cluster's gateway cannot probe (`error`), or can again (undefined); `before`: the error
 * before. Warned once per outage: a gateway rollout alternates refused, timed out and
 * "certificates not loaded", and each new text is only a debug line (the condition's message has it).
 */
export function localGatewayLevel(error: string | undefined, before: string | undefined): LogLevel {
  if (error && before === undefined) return 'warn';
  return error ? 'debug' : 'info';
}
