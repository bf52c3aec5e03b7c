import { describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { REMOTE_KUBECONFIG_KEY } from '../kube/keys.js';
import { TcpRelay } from '../kube/tcp-relay.js';
import type { V1Secret } from '../kube/types.js';
import {
  capturedLog,
  condition,
  exportService,
  getLink,
  getService,
  link,
  metricValue,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

/** The object keys of a JSON text that occur twice in one object (JSON.parse keeps only the last). */
function duplicateKeys(text: string): string[] {
  const dups: string[] = [];
  let i = 0;
  const ws = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const str = (): string => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      ws();
      while (text[i] !== '}') {
        ws();
        const key = str();
        if (seen.has(key)) dups.push(key);
        seen.add(key);
        ws();
        i++; // :
        value();
        ws();
        if (text[i] === ',') i++;
        ws();
      }
      i++;
    } else if (c === '[') {
      i++;
      ws();
      while (text[i] !== ']') {
        value();
        ws();
        if (text[i] === ',') i++;
        ws();
      }
      i++;
    } else if (c === '"') str();
    else while (i < text.length && !/[,}\]\s]/.test(text[i] ?? '')) i++;
  };
  value();
  return dups;
}

describe('a hung remote API (connections open, nothing forwarded)', () => {
  it('finds duplicate keys in raw JSON text', () => {
    expect(duplicateKeys('{"a":1,"b":{"a":[1,{"x":"}","x":2}]},"a":"q\\"}"}')).toEqual(['x', 'a']);
    expect(duplicateKeys('{"a":1,"b":{"a":2}}')).toEqual([]);
  });

  it('is reported Unreachable (condition, metric, one log line), mirrors kept, and mirroring resumes after', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    const relay = await TcpRelay.start(new URL(west.sandbox.url));
    try {
      // The remote client goes through the relay, with a health check frequent enough for a test,
      // and timeouts generous enough that only the freeze makes it miss an answer: the log must say
      // "down" once and "back" once, and a check that a loaded machine delayed would add a pair.
      const remoteClient = (secret: V1Secret) => {
        const kubeconfig = Buffer.from(secret.data?.[REMOTE_KUBECONFIG_KEY] ?? '', 'base64').toString('utf8');
        return KubeClient.fromKubeconfigString(
          kubeconfig.replace(west.sandbox.url, relay.via(west.sandbox.url)),
          undefined,
          {
            healthCheck: { periodMs: 200, timeoutMs: 3_000 },
            timeoutMs: 5_000,
          },
        );
      };
      const { log, lines } = capturedLog('east');
      await link(east, west, 'west');
      const { ctl } = world.controller('east', { remoteClient, log, cluster: 'east' });
      await waitReady(east, 'default', 'podinfo-west');
      const remoteApi = async () => condition(await getLink(east, 'west'), 'RemoteAPIAvailable');
      await waitFor(async () => (await remoteApi())?.status === 'True', { what: 'RemoteAPIAvailable=True' });
      const up = () => metricValue(ctl.registry, 'isthmus_remote_api_up', { target_cluster_name: 'west' });
      expect(await up()).toBe(1);

      relay.freeze();
      await waitFor(async () => (await remoteApi())?.reason === 'Unreachable', {
        timeoutMs: 20_000,
        what: 'RemoteAPIAvailable=False/Unreachable',
      });
      expect((await remoteApi())?.status).toBe('False');
      expect((await remoteApi())?.message).toMatch(/did not answer/);
      expect(await up()).toBe(0);
      // Exported while the remote hangs: mirrored once it answers again.
      await exportService(west, 'late', { ready: 1 });
      // Mirrors are kept through the outage.
      expect(await getService(east, 'default', 'podinfo-west')).toBeDefined();

      relay.thaw();
      await waitReady(east, 'default', 'late-west', true, 20_000);
      await waitFor(async () => (await remoteApi())?.status === 'True', {
        timeoutMs: 20_000,
        what: 'RemoteAPIAvailable=True again',
      });
      expect(await up()).toBe(1);

      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const down = parsed.filter((l) => l.msg === 'remote API unreachable');
      const back = parsed.filter((l) => l.msg === 'remote API reachable again');
      // Once per transition, however many watches failed and retried meanwhile.
      expect(down).toHaveLength(1);
      expect(back).toHaveLength(1);
      expect(down[0]).toMatchObject({ level: 40, link: 'isthmus-system/west', target_cluster: 'west' });
      expect(String(down[0]?.reason)).toMatch(/did not answer/);
      expect(back[0]).toMatchObject({ level: 30, link: 'isthmus-system/west', target_cluster: 'west' });
      expect(typeof back[0]?.down_seconds).toBe('number');

      // Every line: no key twice (the local `cluster` must survive jq), `link` always namespace/name.
      for (const line of lines) expect(duplicateKeys(line), line).toEqual([]);
      for (const l of parsed) {
        expect(l.cluster, JSON.stringify(l)).toBe('east');
        if (l.link !== undefined) expect(l.link, JSON.stringify(l)).toBe('isthmus-system/west');
      }
      expect(parsed.some((l) => l.msg === 'watching linked cluster' && l.target_cluster === 'west')).toBe(
        true,
      );
    } finally {
      relay.thaw();
      await relay.close();
    }
  });
});
