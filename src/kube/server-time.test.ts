import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { KubeClient } from './client.js';
import { serverTime } from './server-time.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ name: 'east' });
});
afterAll(async () => {
  await sb?.close();
});

describe('serverTime', () => {
  it("reads the API server's clock from its Date header, to the second", async () => {
    const client = KubeClient.fromKubeconfigString(sb.kubeconfig());
    try {
      const before = Math.floor(Date.now() / 1000) * 1000;
      const at = await serverTime(client);
      // The sandbox shares this machine's clock: the header's second lies within the call's.
      expect(at?.getTime()).toBeGreaterThanOrEqual(before);
      expect(at?.getTime()).toBeLessThanOrEqual(Date.now());
    } finally {
      client.close();
    }
  });
});
