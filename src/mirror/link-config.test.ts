import { describe, expect, it } from 'vitest';
import { gatewayAddressList, keyPatternList } from '../cli/link/options.js';
import type { Link } from '../kube/types.js';
import {
  NO_LOCAL_GATEWAY_REASON,
  parseDuration,
  parseLinkSpec,
  selectorMatches,
  selectorToQuery,
} from './link-config.js';
import { linkObject } from './test-builders.js';

describe('parseDuration', () => {
  it.each([
    ['3s', 3000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['1h', 3_600_000],
  ])('%s → %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', '3', 's', '3x', '-1s'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined());
});

describe('parseLinkSpec', () => {
  it('applies the CRD defaults', () => {
    const parsed = parseLinkSpec(linkObject('west', { gatewayAddress: '10.1.0.1, gw.example.com' }));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.config).toMatchObject({
      linkName: 'west',
      clusterName: 'west',
      clusterDomain: 'cluster.local',
      gatewayAddresses: ['10.1.0.1', 'gw.example.com'],
      gatewayPort: 4143,
      probe: { path: '/ready', port: 4191, periodMs: 3000, timeoutMs: 2000, failureThreshold: 3 },
      selector: { matchLabels: { 'mirror.linkerd.io/exported': 'true' } },
      federatedServiceSelector: { matchLabels: { 'mirror.linkerd.io/federated': 'member' } },
      remoteDiscoverySelector: { matchLabels: { 'mirror.linkerd.io/exported': 'remote-discovery' } },
      mirrorHeadless: false,
      enableNamespaceCreation: false,
    });
    const opted = parseLinkSpec(linkObject('west', { enableNamespaceCreation: true }));
    expect(opted.ok && opted.config.enableNamespaceCreation).toBe(true);
  });

  it('reads an empty selector as "mirror nothing"', () => {
    const parsed = parseLinkSpec(linkObject('west', { selector: {} }));
    expect(parsed.ok && parsed.config.selector).toBeNull();
  });

  it('reads an empty federatedServiceSelector as "no federated members", keeping the export selector', () => {
    const parsed = parseLinkSpec(linkObject('west', { federatedServiceSelector: {} }));
    expect(parsed.ok && parsed.config.federatedServiceSelector).toBeNull();
    expect(parsed.ok && parsed.config.selector).toEqual({
      matchLabels: { 'mirror.linkerd.io/exported': 'true' },
    });
  });

  it('reads an empty remoteDiscoverySelector as "no remote discovery"', () => {
    const parsed = parseLinkSpec(linkObject('west', { remoteDiscoverySelector: {} }));
    expect(parsed.ok && parsed.config.remoteDiscoverySelector).toBeNull();
  });

  it('a Link without gatewayAddress has no gateway and mirrors remote-discovery Services and members only', () => {
    const spec = linkObject('west').spec;
    const { gatewayAddress: _none, ...gatewayless } = spec;
    const parsed = parseLinkSpec({ ...linkObject('west'), spec: gatewayless });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.config).toMatchObject({
      hasGateway: false,
      gatewayAddresses: [],
      selector: null,
      federatedServiceSelector: { matchLabels: { 'mirror.linkerd.io/federated': 'member' } },
      remoteDiscoverySelector: { matchLabels: { 'mirror.linkerd.io/exported': 'remote-discovery' } },
    });
    // An explicit {} is the same; a selector that needs the tunnel is refused with the reason.
    expect(parseLinkSpec({ ...linkObject('west'), spec: { ...gatewayless, selector: {} } }).ok).toBe(true);
    const refused = parseLinkSpec({
      ...linkObject('west'),
      spec: { ...gatewayless, selector: { matchLabels: { team: 'a' } } },
    });
    expect(!refused.ok && refused.reason).toMatch(
      /^selector picks Services reached through the remote gateway, and the Link has no gatewayAddress/,
    );
    expect(parseLinkSpec(linkObject('west')).ok && parseLinkSpec(linkObject('west'))).toMatchObject({
      config: { hasGateway: true },
    });
  });

  it('in a cluster without a gateway of its own, a Link with one is invalid and says how to relink', () => {
    const noGateway = { localGateway: false };
    const refused = parseLinkSpec(linkObject('west'), noGateway);
    expect(!refused.ok && refused.reason).toBe(NO_LOCAL_GATEWAY_REASON);
    expect(NO_LOCAL_GATEWAY_REASON).toContain('isthmus link --no-gateway');
    const { gatewayAddress: _none, ...gatewayless } = linkObject('west').spec;
    expect(parseLinkSpec({ ...linkObject('west'), spec: gatewayless }, noGateway).ok).toBe(true);
  });

  it('refuses a Link to this cluster itself, when its name is known', () => {
    const self = parseLinkSpec(linkObject('east'), { localGateway: true, localCluster: 'east' });
    expect(!self.ok && self.reason).toMatch(
      /^targetClusterName east is this cluster: a cluster is not linked to itself/,
    );
    expect(parseLinkSpec(linkObject('west'), { localGateway: true, localCluster: 'east' }).ok).toBe(true);
  });

  it('keeps a given federatedServiceSelector', () => {
    const selector = { matchExpressions: [{ key: 'federation', operator: 'In', values: ['payments'] }] };
    const parsed = parseLinkSpec(linkObject('west', { federatedServiceSelector: selector }));
    expect(parsed.ok && parsed.config.federatedServiceSelector).toEqual(selector);
  });

  it.each([
    ['bad cluster name', { targetClusterName: 'West_1' }, /targetClusterName/],
    ['no gateway', { gatewayAddress: ' , ' }, /gatewayAddress/],
    ['bad port', { gatewayPort: 70000 }, /gatewayPort/],
    ['bad period', { probeSpec: { period: 'soon' } }, /probeSpec.period/],
    ['bad threshold', { probeSpec: { failureThreshold: 0 } }, /failureThreshold/],
    ['bad operator', { selector: { matchExpressions: [{ key: 'a', operator: 'Near' }] } }, /operator/],
    ['In without values', { selector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }, /needs values/],
    [
      'bad federated operator',
      { federatedServiceSelector: { matchExpressions: [{ key: 'a', operator: 'Near' }] } },
      /^federatedServiceSelector operator "Near" is not supported$/,
    ],
    [
      'federated Exists with values',
      { federatedServiceSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } },
      /^federatedServiceSelector operator Exists on a takes no values$/,
    ],
    [
      'bad remote-discovery operator',
      { remoteDiscoverySelector: { matchExpressions: [{ key: 'a', operator: 'Near' }] } },
      /^remoteDiscoverySelector operator "Near" is not supported$/,
    ],
    ['no credentials', { clusterCredentialsSecret: '' }, /clusterCredentialsSecret/],
  ])('rejects %s with a reason', (_name, spec, reason) => {
    const parsed = parseLinkSpec(linkObject('west', spec as never));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });
});

describe('parseLinkSpec: what `isthmus link` refuses, a hand-written Link is refused for too', () => {
  const reasonOf = (spec: Partial<Link['spec']>): string => {
    const parsed = parseLinkSpec(linkObject('west', spec));
    return parsed.ok ? 'accepted' : parsed.reason;
  };
  const KEY_RULE =
    /name part must consist of alphanumeric characters, '-', '_' or '\.', and must start and end with an alphanumeric character/;

  it.each(['selector', 'federatedServiceSelector', 'remoteDiscoverySelector'] as const)(
    '%s: a matchExpressions key is a qualified name, as kube-apiserver says',
    (field) => {
      const reason = reasonOf({ [field]: { matchExpressions: [{ key: 'bad key!', operator: 'Exists' }] } });
      expect(reason).toMatch(
        new RegExp(`^${field}\\.matchExpressions\\[0\\]\\.key: Invalid value: "bad key!": `),
      );
      expect(reason).toMatch(KEY_RULE);
    },
  );

  it.each([
    [
      'a matchExpressions value',
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'no spaces'] }] },
      /^selector\.matchExpressions\[0\]\.values\[1\]: Invalid value: "no spaces": a valid label must be an empty string or/,
    ],
    [
      'a matchLabels key',
      { matchLabels: { 'bad key!': 'x' } },
      /^selector\.matchLabels: Invalid value: "bad key!": name part/,
    ],
    [
      'a matchLabels value',
      { matchLabels: { tier: 'a/b' } },
      /^selector\.matchLabels: Invalid value: "a\/b": a valid label/,
    ],
    [
      'a key prefix',
      { matchLabels: { 'Example.com/tier': 'web' } },
      /^selector\.matchLabels: Invalid value: "Example\.com\/tier": prefix part a lowercase RFC 1123 subdomain/,
    ],
    [
      'every problem, as one aggregate',
      { matchLabels: { 'bad key!': 'x' }, matchExpressions: [{ key: '-a', operator: 'Exists' }] },
      /^\[selector\.matchLabels: Invalid value: "bad key!": .*, selector\.matchExpressions\[0\]\.key: Invalid value: "-a": .*\]$/,
    ],
  ])('selector: %s follows kube label rules', (_what, selector, reason) => {
    expect(reasonOf({ selector: selector as never })).toMatch(reason);
  });

  it('accepts what kube accepts: qualified keys, empty and dotted values, the four operators', () => {
    const selector = {
      matchLabels: { 'mirror.linkerd.io/exported': 'true', 'app.kubernetes.io/name': '', Tier: 'Web_1.x' },
      matchExpressions: [
        { key: 'example.com/team', operator: 'NotIn', values: ['a', ''] },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    };
    expect(reasonOf({ selector })).toBe('accepted');
  });

  it.each([
    [
      'excludedLabels',
      ['team', '*'],
      /^excludedLabels\[1\]: "\*" is neither a label key nor a prefix\/\* wildcard: name part/,
    ],
    ['excludedLabels', ['team*'], /^excludedLabels\[0\]: "team\*" is neither a label key/],
    [
      'excludedLabels',
      ['/*'],
      /^excludedLabels\[0\]: "\/\*" is neither a label key .*: prefix part must be non-empty/,
    ],
    [
      'excludedLabels',
      ['Example.com/*'],
      /^excludedLabels\[0\]: "Example\.com\/\*" .*: prefix part a lowercase RFC 1123 subdomain/,
    ],
    [
      'excludedAnnotations',
      ['x/y/z'],
      /^excludedAnnotations\[0\]: "x\/y\/z" is neither an annotation key nor a prefix\/\* wildcard/,
    ],
    ['excludedAnnotations', ['*'], /^excludedAnnotations\[0\]: "\*" is neither an annotation key/],
  ])(
    '%s %j: a `*` that is not a prefix/* is ignored and named, not matched as a literal key',
    (field, list, reason) => {
      // Ignored rather than fatal: such a Link mirrored before, and must not freeze on an upgrade.
      const parsed = parseLinkSpec(linkObject('west', { [field]: list }));
      if (!parsed.ok) throw new Error(parsed.reason);
      expect(parsed.config.ignoredExclusions).toEqual([expect.stringMatching(reason)]);
      const kept =
        field === 'excludedLabels' ? parsed.config.excludedLabels : parsed.config.excludedAnnotations;
      expect(kept).toEqual(list.filter((p) => p === 'team'));
    },
  );

  it('accepts keys and prefix/* wildcards; annotation keys ignore case, as kube checks them', () => {
    expect(reasonOf({ excludedLabels: ['team', 'example.com/*', 'app.kubernetes.io/name'] })).toBe(
      'accepted',
    );
    expect(reasonOf({ excludedAnnotations: ['internal.example.com/*', 'Internal.Example.com/Owner'] })).toBe(
      'accepted',
    );
  });

  it.each([
    [
      '127.0.121.2:4143',
      /^gatewayAddress: "127\.0\.121\.2:4143" is neither an IP address nor a DNS name: give the address alone, and its port in gatewayPort$/,
    ],
    [
      '10.1.0.1, gw.west.example:4143',
      /^gatewayAddress: "gw\.west\.example:4143" .*its port in gatewayPort$/,
    ],
    [
      '[2001:db8::7]',
      /^gatewayAddress: "\[2001:db8::7\]" .*: write the IPv6 address without brackets \(2001:db8::7\)$/,
    ],
    [
      'https://gw.west.example',
      /^gatewayAddress: "https:\/\/gw\.west\.example" is neither an IP address nor a DNS name$/,
    ],
  ])('gatewayAddress %j: dialled as <address>:<gatewayPort>, so only addresses', (gatewayAddress, reason) => {
    expect(reasonOf({ gatewayAddress })).toMatch(reason);
  });

  it('accepts IPs (v4, v6) and DNS names in any case', () => {
    expect(reasonOf({ gatewayAddress: '10.1.0.1, 2001:db8::7, GW.West.example' })).toBe('accepted');
  });
});

describe('isthmus link and the controller agree (one validation, src/mirror/link-validation.ts)', () => {
  const cliRefuses = (fn: () => unknown): boolean => {
    try {
      fn();
      return false;
    } catch {
      return true;
    }
  };
  const controllerRefuses = (spec: Partial<Link['spec']>): boolean =>
    !parseLinkSpec(linkObject('west', spec)).ok;

  /** The controller ignores (and check names) what the CLI refuses, rather than freezing the Link. */
  const controllerIgnores = (spec: Partial<Link['spec']>): boolean => {
    const parsed = parseLinkSpec(linkObject('west', spec));
    return parsed.ok && parsed.config.ignoredExclusions.length > 0;
  };

  it.each(['team', 'example.com/*', '*', 'team*', '/*', 'Example.com/*', 'x/y/z', `${'a'.repeat(64)}`])(
    'excluded pattern %j',
    (p) => {
      expect(cliRefuses(() => keyPatternList('--excluded-labels', p))).toBe(
        controllerIgnores({ excludedLabels: [p] }),
      );
      expect(cliRefuses(() => keyPatternList('--excluded-annotations', p))).toBe(
        controllerIgnores({ excludedAnnotations: [p] }),
      );
    },
  );

  it.each([
    '198.51.100.7',
    'gw.west.example',
    '2001:db8::7',
    '198.51.100.7:4143',
    '[2001:db8::7]',
    'a_b.example',
    'gw.west.example.',
  ])('gateway address %j', (a) => {
    expect(cliRefuses(() => gatewayAddressList(a))).toBe(controllerRefuses({ gatewayAddress: a }));
  });
});

describe('selectors', () => {
  const selector = {
    matchLabels: { exported: 'true' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['web', 'api'] },
      { key: 'legacy', operator: 'DoesNotExist' },
    ],
  };
  it('renders the query form', () => {
    expect(selectorToQuery(selector)).toBe('exported=true,tier in (web,api),!legacy');
  });
  it.each([
    [{ exported: 'true', tier: 'web' }, true],
    [{ exported: 'true', tier: 'db' }, false],
    [{ exported: 'true', tier: 'web', legacy: 'x' }, false],
    [{ tier: 'web' }, false],
  ])('matches %j → %s', (labels, expected) => expect(selectorMatches(selector, labels)).toBe(expected));
  it('null selector matches nothing', () => expect(selectorMatches(null, { a: 'b' })).toBe(false));
});
