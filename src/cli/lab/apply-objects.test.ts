/**
 * The lab applies `isthmus install`'s output itself, as `kubectl apply` would: so a later
 * `isthmus upgrade | kubectl apply -f -` in the lab behaves as on a cluster installed that way.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.js';
import { R } from '../../kube/resources.js';
import type { KubeObject, V1ConfigMap } from '../../kube/types.js';
import { type Sandbox, startSandbox } from '../../sandbox/index.js';
import { kubectlWith } from '../../sandbox/test-support.js';
import { installManifests } from '../install/render.js';
import { testInstallOptions } from '../install/test-options.js';
import { toYamlStream } from '../kube-yaml.js';
import { applyObjects, LAST_APPLIED_ANNOTATION } from './apply-objects.js';

let sb: Sandbox;
let client: KubeClient;
let dir: string;
let kubectl: ReturnType<typeof kubectlWith>;

beforeAll(async () => {
  sb = await startSandbox({ name: 'lab-apply' });
  client = KubeClient.fromKubeconfigString(sb.kubeconfig());
  dir = mkdtempSync(join(tmpdir(), 'lab-apply-'));
  writeFileSync(join(dir, 'kubeconfig'), sb.kubeconfig());
  kubectl = kubectlWith(join(dir, 'kubeconfig'), dir);
});
afterAll(async () => {
  client?.close();
  await sb?.close();
  rmSync(dir, { recursive: true, force: true });
});

const configMap = (data: Record<string, string>): KubeObject & V1ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'settings', namespace: 'default', labels: { 'app.kubernetes.io/part-of': 'isthmus' } },
  data,
});

describe('applyObjects', () => {
  it('records what it applied as kubectl apply does, so kubectl apply later merges three ways', async () => {
    await applyObjects(client, [configMap({ a: '1', b: '2' })]);
    const applied = await client.get<V1ConfigMap>(R.configMaps, 'default', 'settings');
    const recorded = applied?.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration'];
    expect(recorded).toBeDefined();
    expect(JSON.parse(recorded as string)).toMatchObject({ kind: 'ConfigMap', data: { a: '1', b: '2' } });

    // The next version drops key b: kubectl apply removes it only because the annotation says the
    // last apply set it; and it warns of nothing.
    writeFileSync(join(dir, 'next.json'), JSON.stringify(configMap({ a: '1' })));
    const r = await kubectl('apply', '-f', join(dir, 'next.json'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const next = await client.get<V1ConfigMap>(R.configMaps, 'default', 'settings');
    expect(next?.data).toEqual({ a: '1' });
  });

  it('replaces an existing object and records the new configuration', async () => {
    await applyObjects(client, [configMap({ c: '3' })]);
    const replaced = await client.get<V1ConfigMap>(R.configMaps, 'default', 'settings');
    expect(replaced?.data).toEqual({ c: '3' });
    const recorded = replaced?.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration'];
    expect(JSON.parse(recorded as string).data).toEqual({ c: '3' });
  });

  it('leaves the install as kubectl apply would: re-applied unchanged by kubectl, CRDs included, no warning', async () => {
    // The sandbox serves the project's CRDs from its start, as the lab's clusters do: the install's
    // CRDs exist before the lab applies them. The ConfigMap has what Go's encoding/json writes
    // differently from JSON.stringify: key order (numeric-looking keys too) and escaped <, >, &.
    const tricky: KubeObject & V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'tricky', namespace: 'default' },
      data: { zeta: '<a & b>', '10': 'ten', '2': 'two', alpha: 'x' },
    };
    const objects = [...(installManifests(testInstallOptions()) as KubeObject[]), tricky];
    expect(objects.some((o) => o.kind === 'CustomResourceDefinition')).toBe(true);
    await applyObjects(client, objects);

    writeFileSync(join(dir, 'install.yaml'), toYamlStream(objects));
    const r = await kubectl('apply', '-f', join(dir, 'install.yaml'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(objects.length);
    // Two are `configured` by kubectl on any cluster, however they were applied: a Secret given with
    // stringData (the API server moves it into data, so the merge sets it again every time) and a
    // PodDisruptionBudget (its spec.selector's patch strategy is "replace": the patch always holds it).
    const alwaysConfigured = [
      'secret/isthmus-issuer configured',
      'poddisruptionbudget.policy/isthmus-controller configured',
    ];
    expect(lines.filter((l) => !alwaysConfigured.includes(l) && !l.endsWith(' unchanged'))).toEqual([]);

    const crd = await client.get(R.crds, undefined, 'links.multicluster.isthmus.dev');
    expect(crd?.metadata?.annotations?.[LAST_APPLIED_ANNOTATION]).toBeDefined();
  });
});
