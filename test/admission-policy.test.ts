/**
 * `isthmus install --admission-policy` through the real `kubectl apply -f` into a sandbox, which
 * serves admissionregistration.k8s.io/v1 with kube-apiserver's validation of both kinds (what the
 * policy refuses once bound: test/admission-policy-enforced.test.ts),
 * and `isthmus uninstall` naming both, the binding before any EndpointSlice it would refuse.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ADMISSION_POLICY_NAME } from '../src/cli/install/admission-policy.js';
import { writeCertificates } from '../src/identity/files.js';
import { type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { installArgs, isthmusCli, kubectlWithInput, type Outcome } from './cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'isthmus-admission-'));
const kubeconfig = join(dir, 'kubeconfig');
let sb: Sandbox;
const kubectl = kubectlWithInput(kubeconfig);

beforeAll(async () => {
  [sb] = await Promise.all([
    startSandbox({ name: 'east' }),
    writeCertificates({ outDir: join(dir, 'certs'), clusters: ['east'], trustDomain: 'cluster.local' }),
  ]);
  writeFileSync(kubeconfig, sb.kubeconfig());
});
afterAll(async () => {
  await sb?.close();
  rmSync(dir, { recursive: true, force: true });
});

function ok(what: string, r: Outcome): string {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

const install = (...flags: string[]) => isthmusCli([...installArgs(join(dir, 'certs'), 'east'), ...flags]);

describe('isthmus install --admission-policy with the real kubectl', () => {
  it('upgrade --unset admission-policy names both objects for deletion until they are gone', async () => {
    ok(
      'kubectl apply',
      await kubectl(['apply', '-f', '-'], ok('isthmus install', await install('--admission-policy'))),
    );
    const upgrade = (...args: string[]) => isthmusCli(['upgrade', '--kubeconfig', kubeconfig, ...args]);
    const deletes = (o: Outcome) => o.stderr.match(/^ {2}kubectl .*$/gm) ?? [];
    const dropped = await upgrade('--unset', 'admission-policy');
    ok('isthmus upgrade', dropped);
    const kindsOf = (stream: string) =>
      parseAllDocuments(stream).map((d) => (d.toJSON() as { kind: string }).kind);
    expect(kindsOf(dropped.stdout)).not.toContain('ValidatingAdmissionPolicy');
    expect(deletes(dropped)).toEqual([
      `  kubectl --kubeconfig ${kubeconfig} delete validatingadmissionpolicy.admissionregistration.k8s.io/${ADMISSION_POLICY_NAME} validatingadmissionpolicybinding.admissionregistration.k8s.io/${ADMISSION_POLICY_NAME}`,
    ]);
    ok('kubectl apply', await kubectl(['apply', '-f', '-'], dropped.stdout));
    for (const command of deletes(dropped)) ok(command, await kubectl(command.trim().split(' ').slice(3)));
    // Gone: upgrade looks both kinds up, and names them no more.
    const settled = await upgrade();
    ok('isthmus upgrade', settled);
    expect(deletes(settled)).toEqual([]);
    ok('kubectl apply', await kubectl(['apply', '-f', '-'], settled.stdout));
  });

  it('applies, re-applies unchanged, is served as the API server serves it, and uninstall lists it first', async () => {
    const manifests = ok('isthmus install', await install('--admission-policy'));
    const applied = ok('kubectl apply', await kubectl(['apply', '-f', '-'], manifests));
    expect(applied).toContain(
      `validatingadmissionpolicy.admissionregistration.k8s.io/${ADMISSION_POLICY_NAME} created`,
    );
    expect(applied).toContain(
      `validatingadmissionpolicybinding.admissionregistration.k8s.io/${ADMISSION_POLICY_NAME} created`,
    );
    const again = ok('kubectl apply again', await kubectl(['apply', '-f', '-'], manifests));
    expect(again).toContain(
      `validatingadmissionpolicy.admissionregistration.k8s.io/${ADMISSION_POLICY_NAME} unchanged`,
    );
    expect(again).toContain(
      `validatingadmissionpolicybinding.admissionregistration.k8s.io/${ADMISSION_POLICY_NAME} unchanged`,
    );

    const table = ok('kubectl get', await kubectl(['get', 'validatingadmissionpolicybindings']));
    expect(table).toMatch(
      new RegExp(
        `^NAME\\s+POLICYNAME\\s+PARAMREF\\s+AGE\\n${ADMISSION_POLICY_NAME}\\s+${ADMISSION_POLICY_NAME}\\s+<unset>`,
      ),
    );
    const served = JSON.parse(
      ok(
        'kubectl get -o json',
        await kubectl(['get', 'validatingadmissionpolicy', ADMISSION_POLICY_NAME, '-o', 'json']),
      ),
    ) as { spec: { failurePolicy: string; matchConstraints: { matchPolicy: string } } };
    expect(served.spec.failurePolicy).toBe('Fail');
    expect(served.spec.matchConstraints.matchPolicy).toBe('Equivalent');

    // The record names both, so that an upgrade without the flag names them as leftovers.
    const record = parseAllDocuments(manifests)
      .map((d) => d.toJSON() as { kind: string; metadata: { name: string }; data?: { objects?: string } })
      .find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'isthmus-config');
    expect(record?.data?.objects).toContain(
      `admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding ${ADMISSION_POLICY_NAME}`,
    );

    // A policy without validations is refused, as kube-apiserver refuses it.
    const bad = await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: empty}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
`,
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('spec.validations: Required value');

    const uninstall = ok('isthmus uninstall', await isthmusCli(['uninstall', '--kubeconfig', kubeconfig]));
    const kinds = parseAllDocuments(uninstall).map((d) => (d.toJSON() as { kind: string }).kind);
    expect(kinds.slice(0, 2)).toEqual(['ValidatingAdmissionPolicyBinding', 'ValidatingAdmissionPolicy']);
    const deleted = ok('kubectl delete', await kubectl(['delete', '--wait=false', '-f', '-'], uninstall));
    expect(deleted).toContain(
      `validatingadmissionpolicy.admissionregistration.k8s.io "${ADMISSION_POLICY_NAME}" deleted`,
    );
    expect(ok('kubectl get', await kubectl(['get', 'validatingadmissionpolicies', '-o', 'name']))).toBe('');
  });
});
