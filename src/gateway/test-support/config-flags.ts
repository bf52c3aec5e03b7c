/** Gateway flags for the configuration tests, and the USAGE error a flag is refused with. */
import { expect } from 'vitest';
import { isIsthmusError } from '../../errors.js';
import type { GatewayFlags } from '../config.js';

/** The certificate files of `minimalFlags`. */
export const certFiles = { certFile: '/c/crt.pem', keyFile: '/c/key.pem', caFile: '/c/ca.pem' };

/** The least a gateway starts with: a cluster name, a kubeconfig and certificate files. */
export const minimalFlags: GatewayFlags = { cluster: 'west', kubeconfig: '/k/config', ...certFiles };

/** The message of the USAGE error `fn` throws; fails the test if it throws another or none. */
export function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isIsthmusError(err, 'USAGE')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a USAGE error');
}
