import type { CheckResult, Fetched } from '../types.js';

/** A result from its problems: any failure fails the check, warnings alone only warn. */
export function resultOf(description: string, failures: string[], warnings: string[] = []): CheckResult {
  const status = failures.length > 0 ? 'fail' : warnings.length > 0 ? 'warn' : 'ok';
  return { description, status, hints: [...failures, ...warnings] };
}

/** A check of the gateway or its certificates, after `isthmus install --no-gateway`: nothing to check. */
export function withoutGateway(description: string): CheckResult {
  return resultOf(`${description}: no gateway installed (--no-gateway)`, []);
}

/** The check cannot run because a read it depends on failed: a failure that says which read. */
export function unreadable(description: string, what: string, fetched: Fetched<unknown>): CheckResult | null {
  return fetched.ok ? null : resultOf(description, [`cannot read ${what}: ${fetched.error}`]);
}
