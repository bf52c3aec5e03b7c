/**
 * `isthmus check --pre`: the pure checks on their own cases, the gatherer against strict sandboxes
 * (an administrator, a user who may only create namespaces, a TrafficSplit CRD from another tool),
 * and the command itself.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KubeClient } from '../../kube/client.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import { SERVER_VERSION } from '../../sandbox/discovery.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { admissionPolicyManifests } from '../install/admission-policy.js';
import { networkPolicyManifests } from '../install/network-policy.js';
import { testInstallOptions } from '../install/test-options.js';
import {
  checkCrdsFree,
  checkNamespaceFree,
  checkVersion,
  gatherPreFacts,
  INSTALL_KINDS,
  installCreates,
  MIN_MINOR,
  OPTIONAL_INSTALL_KINDS,
  type PreFacts,
  runPreChecks,
} from './pre-install.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'isthmus-pre-'));
let plain: Sandbox;
let bare: Sandbox;

beforeAll(async () => {
  plain = await startSandbox({ name: 'pre' });
  bare = await startSandbox({ name: 'pre-bare', loadCrds: false });
});
afterAll(async () => {
  await plain?.close();
  await bare?.close();
  rmSync(dir, { recursive: true, force: true });
});

const healthy = (): PreFacts => ({
  version: { ok: true, value: 'v1.31.2' },
  deniedCreates: { ok: true, value: [] },
  crds: { ok: true, value: [] },
  namespaceExists: { ok: true, value: false },
});

describe('pre-install checks (pure)', () => {
  it('covers every kind the install renders', () => {
    const golden = readFileSync(
      join(import.meta.dirname, '..', 'install', 'testdata', 'install-east.golden.yaml'),
      'utf8',
    );
    const kinds = new Set(parseAllDocuments(golden).map((d) => (d.toJS() as { kind?: string } | null)?.kind));
    kinds.delete(undefined);
    // The opt-in ones: what --network-policy and --admission-policy add.
    const optIn = [
      ...networkPolicyManifests(testInstallOptions({ networkPolicy: true })),
      ...admissionPolicyManifests(testInstallOptions({ admissionPolicy: true })),
    ] as { kind: string }[];
    for (const o of optIn) kinds.add(o.kind);
    expect([...kinds].sort()).toEqual([...INSTALL_KINDS].sort());
    expect(Object.keys(OPTIONAL_INSTALL_KINDS).sort()).toEqual([...new Set(optIn.map((o) => o.kind))].sort());
    const plain = installCreates().map((p) => p.resource);
    expect(plain).not.toContain('networkpolicies');
    expect(plain).not.toContain('validatingadmissionpolicies');
    expect(installCreates({ admissionPolicy: true }).map((p) => p.resource)).toEqual(
      expect.arrayContaining(['validatingadmissionpolicies', 'validatingadmissionpolicybindings']),
    );
    expect(installCreates({ admissionPolicy: true }).map((p) => p.resource)).not.toContain('networkpolicies');
  });

  it.each([
    ['v1.25.16', 'fail'],
    ['v1.26.15-eks-1234', 'fail'],
    ['v1.27.0', 'ok'],
    ['v1.32.3+k3s1', 'ok'],
  ])("needs 1.27, where the PDBs' unhealthyPodEvictionPolicy is on: %s is %s", (version, status) => {
    expect(checkVersion({ ...healthy(), version: { ok: true, value: version } }).status).toBe(status);
  });

  it('passes the version the sandbox claims, whose validation accepts what the install renders', () => {
    expect(
      checkVersion({ ...healthy(), version: { ok: true, value: SERVER_VERSION.gitVersion } }).status,
    ).toBe('ok');
    expect(Number(SERVER_VERSION.minor)).toBeGreaterThanOrEqual(MIN_MINOR);
  });

  it('passes on a healthy cluster and says what is wrong otherwise', () => {
    expect(runPreChecks(healthy()).map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    const old = { ...healthy(), version: { ok: true as const, value: 'v1.24.9' } };
    expect(checkVersion(old)).toMatchObject({
      status: 'fail',
      hints: ['the API server is v1.24.9; Isthmus needs v1.27 or newer'],
    });
    expect(checkVersion({ ...healthy(), version: { ok: true, value: 'weird' } }).status).toBe('warn');
    expect(checkVersion({ ...healthy(), version: { ok: false, error: 'ECONNREFUSED' } }).hints).toEqual([
      'cannot read /version: ECONNREFUSED',
    ]);
    const foreign = {
      ...healthy(),
      crds: { ok: true as const, value: [{ name: 'trafficsplits.split.smi-spec.io', ours: false }] },
    };
    expect(checkCrdsFree(foreign)).toMatchObject({ status: 'warn' });
    expect(checkCrdsFree(foreign).hints[0]).toMatch(
      /^CRD trafficsplits\.split\.smi-spec\.io exists and was not installed by Isthmus .*: install with --no-traffic-split-crd to leave it to its chart/,
    );
    expect(checkNamespaceFree({ ...healthy(), namespaceExists: { ok: true, value: true } }).status).toBe(
      'warn',
    );
  });
});

describe('pre-install facts from a sandbox', () => {
  it('an administrator on a fresh cluster: everything √', async () => {
    const client = KubeClient.fromKubeconfigString(plain.kubeconfig());
    try {
      const results = runPreChecks(await gatherPreFacts(client));
      expect(results.map((r) => [r.status, r.hints])).toEqual(results.map(() => ['ok', []]));
    } finally {
      client.close();
    }
  });

  it('a user who may only create namespaces is told every kind they may not create', async () => {
    plain.addToken('ns-maker', {
      username: 'ns-maker',
      rules: [{ verbs: ['create'], resources: ['namespaces'], apiGroups: [''] }],
    });
    const client = KubeClient.fromKubeconfigString(plain.kubeconfig({ token: 'ns-maker', user: 'ns-maker' }));
    try {
      const facts = await gatherPreFacts(client);
      expect(facts.deniedCreates).toEqual({
        ok: true,
        value: installCreates().filter((p) => p.resource !== 'namespaces'),
      });
      const [, creates] = runPreChecks(facts);
      expect(creates!.status).toBe('fail');
      expect(creates!.hints[0]).toMatch(
        /^you may not create customresourcedefinitions \(apiextensions\.k8s\.io\) cluster-wide, create serviceaccounts in isthmus-system, .*create poddisruptionbudgets \(policy\) in isthmus-system: install as a cluster administrator$/,
      );
      // For an install with --network-policy, NetworkPolicies are asked about too.
      const [, withPolicies] = runPreChecks(await gatherPreFacts(client, { networkPolicy: true }));
      expect(withPolicies!.hints[0]).toMatch(
        /create poddisruptionbudgets \(policy\) in isthmus-system, create networkpolicies \(networking\.k8s\.io\) in isthmus-system: install as a cluster administrator$/,
      );
    } finally {
      client.close();
    }
  });

  it('warns of a TrafficSplit CRD from another tool and of an existing isthmus-system', async () => {
    const client = KubeClient.fromKubeconfigString(bare.kubeconfig());
    try {
      const crd = parseAllDocuments(
        readFileSync(
          join(
            import.meta.dirname,
            '..',
            '..',
            '..',
            'manifests',
            'crds',
            'trafficsplits.split.smi-spec.io.yaml',
          ),
          'utf8',
        ),
      )[0]!.toJS() as { metadata: { labels?: Record<string, string> } };
      delete crd.metadata.labels;
      await client.create(R.crds, crd as never);
      await client.create(R.namespaces, { metadata: { name: SYSTEM_NAMESPACE } });
      const results = runPreChecks(await gatherPreFacts(client));
      expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'warn', 'warn']);
    } finally {
      client.close();
    }
  });

  it('isthmus check --pre prints the verdicts and exits 0 when nothing fails', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, plain.kubeconfig());
    const { stdout } = await run(
      process.execPath,
      ['bin/isthmus.mjs', 'check', '--pre', '--kubeconfig', kubeconfig],
      {
        timeout: 60_000,
      },
    );
    expect(stdout).toContain('√ the Kubernetes API is v1.27 or newer');
    expect(stdout).toContain('√ you may create what `isthmus install` applies');
    expect(stdout).toContain('Status check results are √');
  });
});
