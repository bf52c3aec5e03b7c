/**
 * The remote gateway's addresses as RemoteGatewayWatch reports them, against a strict sandbox:
 * resolutions of a gateway hostname that overlap (a Service event, the Link's gatewayAddress edited,
 * the periodic re-resolution) are kept in the order they started, never the order they finished.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { waitFor } from '../wait-for.js';
import { RemoteGatewayWatch } from './remote-gateway-watch.js';

let sandbox: Sandbox;
let client: KubeClient;
beforeEach(async () => {
  sandbox = await startSandbox({ name: 'west', tls: false });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
});
afterEach(async () => {
  client.close();
  await sandbox.close();
});

/** A resolution held until released. */
function held(ips: string[]) {
  let release!: () => void;
  const answer = new Promise<string[]>((resolve) => {
    release = () => resolve(ips);
  });
  return { answer, release };
}

describe('RemoteGatewayWatch', () => {
  it('keeps the newer resolution when an older one, started first, finishes last', async () => {
    const slow = held(['10.5.0.1']);
    const reported: string[][] = [];
    const watch = new RemoteGatewayWatch({
      client,
      backoff: undefined,
      fallback: ['gw-old.west.example'],
      addresses: [],
      resolve: (host) => (host === 'gw-old.west.example' ? slow.answer : Promise.resolve(['10.5.0.2'])),
      resolveIntervalMs: 600_000,
      changed: (addresses) => reported.push(addresses),
    });
    try {
      // The first resolution (of the old name) hangs on DNS…
      const known = watch.start();
      await watch.informer.synced;
      // …while the Link's gatewayAddress is edited: the new name resolves at once.
      watch.setFallback(['gw-new.west.example']);
      await waitFor('the new name reported', () => reported.length > 0 || undefined);
      expect(watch.addresses).toEqual(['10.5.0.2']);
      // Then the old answer comes: it must not put the old address back.
      slow.release();
      await known;
      expect(watch.addresses).toEqual(['10.5.0.2']);
      expect(reported.at(-1)).toEqual(['10.5.0.2']);
    } finally {
      await watch.stop();
    }
  });

  it('reports the first resolution since start even when a newer one took its place', async () => {
    const slow = held(['10.5.0.9']);
    const reported: string[][] = [];
    let calls = 0;
    const watch = new RemoteGatewayWatch({
      client,
      backoff: undefined,
      fallback: ['gw.west.example'],
      // Carried over from the connection before: the same address the newer resolution finds.
      addresses: ['10.5.0.3'],
      resolve: () => (++calls === 1 ? slow.answer : Promise.resolve(['10.5.0.3'])),
      resolveIntervalMs: 600_000,
      changed: (addresses) => reported.push(addresses),
    });
    try {
      const known = watch.start();
      await watch.informer.synced;
      watch.setFallback(['gw.west.example']);
      slow.release();
      await known;
      // The start's promise resolves once the addresses are reported, as before (the connection
      // waits on it), with the newer answer.
      expect(reported).toEqual([['10.5.0.3']]);
    } finally {
      await watch.stop();
    }
  });
});
