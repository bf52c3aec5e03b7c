/**
 * `isthmus upgrade` against a strict sandbox with the real kubectl: install records its flags,
 * upgrade renders the same install from them (byte for byte), changes only what is given, names
 * what `kubectl apply` leaves behind with commands that delete it, and refuses what it cannot do
 * with a message and nothing on stdout.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { writeCertificates } from '../src/identity/files.js';
import { type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { installArgs, isthmusCli, kubectlWithInput, type Outcome } from './cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'isthmus-upgrade-'));
const kubeconfig = join(dir, 'kubeconfig');
const kubectl = kubectlWithInput(kubeconfig);
let east: Sandbox;

const cert = (...path: string[]) => join(dir, 'certs', ...path);
const INSTALL = installArgs(cert(), 'east');
const FLAGS = [
  '--ha',
  '--network-policy',
  '--admin-allow-namespace',
  'monitoring',
  '--toleration',
  'infra:NoSchedule',
  '--gateway-resources',
  'limits.memory=1Gi',
];
const upgrade = (...args: string[]) => isthmusCli(['upgrade', '--kubeconfig', kubeconfig, ...args]);

beforeAll(async () => {
  east = await startSandbox({ name: 'east' });
  writeFileSync(kubeconfig, east.kubeconfig());
  await writeCertificates({
    outDir: join(dir, 'certs'),
    clusters: ['east', 'west'],
    trustDomain: 'cluster.local',
  });
});

afterAll(async () => {
  await east?.close();
  rmSync(dir, { recursive: true, force: true });
});

const ok = (o: Outcome) => {
  expect(o.stderr.replace(/^note: .*\n?/gm, '').replace(/^ {2}kubectl .*\n?/gm, '')).toBe('');
  expect(o.code).toBe(0);
  return o;
};
const refused = (o: Outcome, message: RegExp) => {
  expect(o).toMatchObject({ code: 1, stdout: '' });
  expect(o.stderr).toMatch(message);
};
async function apply(manifests: string) {
  const applied = await kubectl(['apply', '-f', '-'], manifests);
  expect(applied).toMatchObject({ code: 0 });
  return applied;
}
async function getJson<T>(...args: string[]): Promise<T> {
  const got = await kubectl(['get', ...args, '-o', 'json']);
  expect(got.stderr).toBe('');
  return JSON.parse(got.stdout) as T;
}
const recordedFlags = async () =>
  (await getJson<{ data: { flags: string } }>('-n', 'isthmus-system', 'configmap', 'isthmus-config')).data
    .flags;

describe('isthmus upgrade', () => {
  it('says there is nothing to upgrade in a cluster without an install', async () => {
    refused(await upgrade(), /no ConfigMap isthmus-system\/isthmus-config in this cluster/);
  });

  it('renders exactly what install rendered, from the flags install recorded and the certificates in the cluster', async () => {
    const installed = ok(await isthmusCli([...INSTALL, ...FLAGS]));
    await apply(installed.stdout);
    // Recorded as typed, without the paths of the certificate files.
    expect(await recordedFlags()).toBe(
      [
        'cluster-name: east',
        'ha: true',
        'toleration:',
        '  - infra:NoSchedule',
        'gateway-resources: limits.memory=1Gi',
        'network-policy: true',
        'admin-allow-namespace:',
        '  - monitoring',
        '',
      ].join('\n'),
    );
    const again = ok(await upgrade());
    expect(again.stdout).toBe(installed.stdout);
    expect(again.stderr).toMatch(/^note: flags unchanged$/m);
    expect(again.stderr).not.toMatch(/kubectl delete/);
  });

  it('changes only the flags given, and names what apply leaves behind with commands that delete it', async () => {
    // Both only read the cluster: run side by side (each is a CLI process, most of it start-up).
    const [lone, changedOutcome] = await Promise.all([
      upgrade('--unset', 'network-policy'),
      upgrade(
        '--unset',
        'network-policy',
        '--unset',
        'admin-allow-namespace',
        '--unset',
        '--ha',
        '--gateway-replicas',
        '3',
      ),
    ]);
    // A flag that only shapes the policies goes with them, as install would say.
    refused(
      lone,
      /--admin-allow-namespace shape the NetworkPolicies: add --network-policy \(a recorded flag is dropped with --unset <flag>\)/,
    );
    const changed = ok(changedOutcome);
    expect(changed.stderr).toMatch(
      /^note: flags changed: --admin-allow-namespace: \[monitoring\] → unset; --gateway-replicas: unset → 3; --ha: on → unset; --network-policy: on → unset$/m,
    );
    const docs = parseAllDocuments(changed.stdout).map(
      (d) =>
        d.toJSON() as {
          kind: string;
          metadata: { name: string };
          spec?: { replicas?: number; template?: { spec: { tolerations?: unknown[] } } };
        },
    );
    // Without --ha identity runs one replica and needs no budget; the others run two or more.
    const names = (kind: string) => docs.filter((d) => d.kind === kind).map((d) => d.metadata.name);
    expect(names('NetworkPolicy')).toEqual([]);
    expect(names('PodDisruptionBudget')).toEqual(['isthmus-gateway', 'isthmus-controller']);
    const gateway = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'isthmus-gateway');
    expect(gateway?.spec?.replicas).toBe(3);
    expect(gateway?.spec?.template?.spec.tolerations).toContainEqual({
      key: 'infra',
      operator: 'Exists',
      effect: 'NoSchedule',
    });
    await apply(changed.stdout);
    const leftovers = async () =>
      (
        await getJson<{ items: { kind: string; metadata: { name: string } }[] }>(
          '-n',
          'isthmus-system',
          'networkpolicies,poddisruptionbudgets',
        )
      ).items.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(await leftovers()).toEqual([
      'NetworkPolicy/isthmus-controller',
      'NetworkPolicy/isthmus-gateway',
      'NetworkPolicy/isthmus-identity',
      'PodDisruptionBudget/isthmus-controller',
      'PodDisruptionBudget/isthmus-gateway',
      'PodDisruptionBudget/isthmus-identity',
    ]);
    // Not deleted yet: the next upgrade names them again, since the record kept them.
    const deletes = (o: Outcome) => o.stderr.match(/^ {2}kubectl .*$/gm) ?? [];
    const again = ok(await upgrade());
    expect(again.stderr).toMatch(/^note: flags unchanged$/m);
    expect(deletes(again)).toEqual(deletes(changed));
    // The commands upgrade printed, for the cluster it read, run as printed.
    expect(deletes(changed).length).toBeGreaterThan(0);
    for (const command of deletes(changed)) {
      expect(command).toContain(`kubectl --kubeconfig ${kubeconfig} delete -n isthmus-system `);
      const deleted = await kubectl(command.trim().split(' ').slice(1));
      expect(deleted).toMatchObject({ code: 0, stderr: '' });
    }
    expect(await leftovers()).toEqual([
      'PodDisruptionBudget/isthmus-controller',
      'PodDisruptionBudget/isthmus-gateway',
    ]);
    expect(await recordedFlags()).toMatch(/^gateway-replicas: "3"$/m);
    const settled = ok(await upgrade());
    expect(deletes(settled)).toEqual([]);
    await apply(settled.stdout);
    expect(ok(await upgrade()).stdout).toBe(settled.stdout);
  });

  it('says when the issuer changes, and leaves cert-manager its Secret under --external-issuer', async () => {
    await writeCertificates({
      outDir: join(dir, 'certs'),
      clusters: ['east'],
      reuseAnchor: true,
      force: true,
    });
    const renewed = ok(
      await upgrade('--issuer-cert', cert('east', 'issuer.crt'), '--issuer-key', cert('east', 'issuer.key')),
    );
    expect(renewed.stderr).toMatch(/^note: the issuer changes: serial [0-9A-F]+ → [0-9A-F]+$/m);
    await apply(renewed.stdout);
    const external = ok(await upgrade('--external-issuer'));
    expect(external.stdout).not.toContain('name: isthmus-issuer\n');
    expect(external.stderr).not.toContain('secret/isthmus-issuer');
  });

  it('refuses what it cannot do, printing nothing to apply', async () => {
    // Each only reads the cluster, and is refused: run side by side (each is a CLI process, most of
    // it start-up), every outcome checked.
    const cases: [string[], RegExp][] = [
      [['--unset', 'bogus'], /--unset bogus: no such install flag/],
      [['--unset', 'ha', '--ha'], /--ha is both given and unset/],
      [['--cluster-name', 'west'], /this install is cluster east; --cluster-name west would rename it/],
      [['--gateway-replicas', 'many'], /--gateway-replicas must be an integer/],
      [
        ['--issuer-cert', cert('west', 'issuer.crt'), '--issuer-key', cert('west', 'issuer.key')],
        /the issuer of cluster "west" .* not of "east"/,
      ],
      [['--issuer-cert', cert('east', 'issuer.crt')], /--issuer-cert and --issuer-key are required/],
    ];
    const outcomes = await Promise.all(cases.map(([args]) => upgrade(...args)));
    cases.forEach(([, message], i) => {
      refused(outcomes[i]!, message);
    });
  });

  it('refuses a record it cannot read, or one made by a CLI that knows more flags', async () => {
    const patch = (flags: string) =>
      kubectl([
        '-n',
        'isthmus-system',
        'patch',
        'configmap',
        'isthmus-config',
        '--type',
        'merge',
        '-p',
        JSON.stringify({ data: { flags } }),
      ]);
    const original = await recordedFlags();
    try {
      await patch('cluster-name: east\nha: [');
      refused(
        await upgrade(),
        /the ConfigMap isthmus-config is not what isthmus install writes: flags is not YAML/,
      );
      await patch('cluster-name: east\nha: "yes"\n');
      refused(await upgrade(), /--ha should be true \(a switch: leave it out to turn it off\)/);
      await patch(`${original}gateway-wasm-filter: x\n`);
      refused(
        await upgrade(),
        /recorded with --gateway-wasm-filter, which this isthmus \(the CLI\) does not know .*--unset gateway-wasm-filter/,
      );
      // As the message says: dropped, the rest of the record still upgrades.
      ok(await upgrade('--unset', 'gateway-wasm-filter'));
    } finally {
      await patch(original);
    }
  });

  it('needs the issuer files once the issuer Secret cannot be read, and takes them', async () => {
    const secret = await kubectl(['-n', 'isthmus-system', 'get', 'secret', 'isthmus-issuer', '-o', 'yaml']);
    await kubectl(['-n', 'isthmus-system', 'delete', 'secret', 'isthmus-issuer']);
    try {
      refused(
        await upgrade(),
        /no Secret isthmus-system\/isthmus-issuer: give the issuer with --issuer-cert and --issuer-key/,
      );
      const withFiles = ok(
        await upgrade(
          '--issuer-cert',
          cert('east', 'issuer.crt'),
          '--issuer-key',
          cert('east', 'issuer.key'),
        ),
      );
      expect(withFiles.stdout).toContain('name: isthmus-issuer');
    } finally {
      await kubectl(['apply', '-f', '-'], secret.stdout);
    }
  });
});

describe('isthmus upgrade of a --no-gateway install', () => {
  it('needs no certificate, and names the gateway objects an install that had one leaves behind', async () => {
    // The install above had a gateway; a flat network is one flag away, and upgrade says what goes.
    const flat = ok(
      await upgrade('--no-gateway', '--unset', 'gateway-resources', '--unset', 'gateway-replicas'),
    );
    expect(flat.stdout).not.toContain('name: isthmus-issuer');
    expect(flat.stderr).toMatch(
      /^ {2}kubectl --kubeconfig \S+ delete -n isthmus-system .*deployment\.apps\/isthmus-gateway/m,
    );
    expect(flat.stderr).toMatch(/secret\/isthmus-issuer/);
  });
});
