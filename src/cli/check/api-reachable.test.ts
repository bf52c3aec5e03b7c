import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { apiUnreachable } from './api-reachable.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ name: 'east' });
});
afterAll(async () => {
  await sb?.close();
});

/** A loopback port nothing listens on any more. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('apiUnreachable', () => {
  it('is nothing to report while the API server answers', async () => {
    const client = KubeClient.fromKubeconfigString(sb.kubeconfig());
    try {
      expect(await apiUnreachable(client)).toBeUndefined();
    } finally {
      client.close();
    }
  });

  it('is the one failure, naming the server and the error, when nothing answers', async () => {
    const port = await closedPort();
    const kubeconfig = sb.kubeconfig().replace(/server: \S+/, `server: https://127.0.0.1:${port}`);
    const client = KubeClient.fromKubeconfigString(kubeconfig);
    try {
      const result = await apiUnreachable(client);
      expect(result).toMatchObject({ description: 'can query the Kubernetes API', status: 'fail' });
      expect(result?.hints[0]).toMatch(
        new RegExp(`^https://127\\.0\\.0\\.1:${port}/: .*ECONNREFUSED.*; check --context and --kubeconfig`),
      );
    } finally {
      client.close();
    }
  });
});
