/**
 * Hand-written Links (kubectl apply) pass the CRD schema with values `isthmus link` refuses: the
 * controller refuses them too (Ready=False LinkInvalid naming the field and value), instead of
 * listing the remote with a selector its API server answers 400 to, or dialling `host:port:port`;
 * and `isthmus check`'s Links check names the same reason.
 */
import { describe, expect, it } from 'vitest';
import { checkLinksValid } from '../cli/check/checks/index.js';
import { oneLinkFacts } from '../cli/check/test-builders.js';
import type { Link } from '../kube/types.js';
import {
  condition,
  editLinkSpec,
  exportService,
  getLink,
  getService,
  link,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();

/** The Link once the controller has marked it invalid with a message matching `message`. */
async function invalidWith(east: Parameters<typeof getLink>[0], message: RegExp): Promise<Link> {
  return waitFor(
    async () => {
      const l = await getLink(east, 'west');
      const ready = condition(l, 'Ready');
      return ready?.reason === 'LinkInvalid' && message.test(ready.message ?? '') ? l : undefined;
    },
    { what: `LinkInvalid ${message}` },
  );
}

/** What `isthmus check`'s "every Link is valid" says of this Link. */
const checkOf = (l: Link) => checkLinksValid(oneLinkFacts(l));

describe('hand-written Links are checked as isthmus link checks them', () => {
  it('a bad selector key or an address with a port: LinkInvalid naming each, and check fails; a lone * pattern is ignored and named', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await link(east, west, 'west', {
      selector: { matchExpressions: [{ key: 'bad key!', operator: 'In', values: ['true'] }] },
    });
    world.controller('east');

    const badKey = await invalidWith(
      east,
      /^selector\.matchExpressions\[0\]\.key: Invalid value: "bad key!": /,
    );
    // Refused before any remote list: no RemoteAPIAvailable=False Unreachable 400, no Syncing.
    expect(badKey.status?.conditions?.map((c) => c.type)).toEqual(['Ready']);
    const checked = checkOf(badKey);
    expect(checked.status).toBe('fail');
    expect(checked.hints.join('\n')).toMatch(
      /Link west: invalid spec: selector\.matchExpressions\[0\]\.key: Invalid value: "bad key!"/,
    );

    // A lone * never excluded anything: the Link works without it (a Link applied before this check
    // keeps mirroring), and check names it.
    await editLinkSpec(east, 'west', ({ selector: _bad, ...spec }) => ({ ...spec, excludedLabels: ['*'] }));
    const star = await waitFor(
      async () => {
        const l = await getLink(east, 'west');
        return condition(l, 'Ready')?.reason === 'LinkInvalid' ? undefined : l;
      },
      { what: 'the Link valid again' },
    );
    const starred = checkOf(star);
    expect(starred.status).toBe('warn');
    expect(starred.hints.join('\n')).toMatch(
      /Link west: excludedLabels\[0\]: "\*" is neither a label key nor a prefix\/\* wildcard.*; it is ignored/,
    );

    await editLinkSpec(east, 'west', ({ excludedLabels: _bad, ...spec }) => ({
      ...spec,
      gatewayAddress: '127.0.121.2:4143',
    }));
    const withPort = await invalidWith(
      east,
      /^gatewayAddress: "127\.0\.121\.2:4143" is neither an IP address nor a DNS name: give the address alone, and its port in gatewayPort$/,
    );
    expect(checkOf(withPort).hints.join('\n')).toMatch(/invalid spec: gatewayAddress: "127\.0\.121\.2:4143"/);
  });

  it('a Link made invalid by a hand edit still reports the mirrors it keeps and the gateway addresses last followed', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'podinfo', { ready: 1 });
    await exportService(west, 'api', { ready: 1 });
    await link(east, west, 'west');
    world.controller('east');
    await waitReady(east, 'default', 'podinfo-west');
    await waitReady(east, 'default', 'api-west');
    await waitFor(async () => (await getLink(east, 'west'))?.status?.mirroredServices === 2, {
      what: '2 services mirrored',
    });
    expect((await getLink(east, 'west'))?.status?.gatewayAddresses).toEqual(['10.1.0.1']);

    await editLinkSpec(east, 'west', (spec) => ({ ...spec, gatewayAddress: '10.1.0.1:4143' }));
    const invalid = await invalidWith(east, /^gatewayAddress: "10\.1\.0\.1:4143" is neither/);
    // Both mirrors are still there (kept while the Link is invalid), and so says the status.
    expect(await getService(east, 'default', 'podinfo-west')).toBeDefined();
    expect(await getService(east, 'default', 'api-west')).toBeDefined();
    expect(invalid.status?.mirroredServices).toBe(2);
    expect(invalid.status?.gatewayAddresses).toEqual(['10.1.0.1']);
  });
});
