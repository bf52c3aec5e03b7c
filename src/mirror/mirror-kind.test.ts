import { describe, expect, it } from 'vitest';
import { HEADLESS_MIRROR_LABEL } from '../kube/keys.js';
import type { V1Service } from '../kube/types.js';
import { type EndpointNames, mirrorsAsHeadless } from './mirror-kind.js';
import { foreignService, linkConfig, ourLabels, remoteService } from './test-builders.js';

const link = linkConfig('west', { mirrorHeadless: true });
const db = remoteService('db', { headless: true });
const named: EndpointNames = { total: 2, named: true };
const unnamed: EndpointNames = { total: 2, named: false };
const none: EndpointNames = { total: 0, named: false };

/** Our mirror `db-west` as stored: headless (clusterIP None) or ordinary (an allocated cluster IP). */
function ours(clusterIP: string, labels: Record<string, string> = {}): V1Service {
  return {
    metadata: { name: 'db-west', namespace: 'default', labels: { ...ourLabels('west'), ...labels } },
    spec: { clusterIP, ports: [{ name: 'http', port: 80 }] },
  };
}

describe('mirrorsAsHeadless', () => {
  it.each<[string, V1Service, EndpointNames, V1Service | undefined, boolean]>([
    ['named pods: headless', db, named, undefined, true],
    ['named pods, ordinary mirror stored: headless (the pods say so)', db, named, ours('10.96.0.9'), true],
    ['pods without a hostname (a Deployment): ordinary', db, unnamed, undefined, false],
    ['pods without a hostname, headless mirror stored: ordinary', db, unnamed, ours('None'), false],
    ['no endpoint, nothing stored: headless, the remote kind', db, none, undefined, true],
    ['no endpoint, ordinary mirror stored: kept, with its cluster IP', db, none, ours('10.96.0.9'), false],
    ['no endpoint, headless mirror stored: kept', db, none, ours('None'), true],
    [
      "no endpoint, another Service's per-pod mirror holds the name: the remote kind",
      db,
      none,
      ours('10.96.0.9', { [HEADLESS_MIRROR_LABEL]: 'other-west' }),
      true,
    ],
    [
      "no endpoint, a stranger's Service holds the name: the remote kind",
      db,
      none,
      foreignService('db-west'),
      true,
    ],
    ['not headless remotely: ordinary', remoteService('web'), named, undefined, false],
  ])('%s', (_what, remote, endpoints, stored, headless) => {
    expect(mirrorsAsHeadless(remote, link, endpoints, stored)).toBe(headless);
  });

  it('without mirrorHeadless every Service gets an ordinary mirror', () => {
    expect(mirrorsAsHeadless(db, linkConfig('west'), named, ours('None'))).toBe(false);
  });
});
