import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { kubeYaml, toYamlStream } from './kube-yaml.js';

/** Strings a YAML 1.2 emitter may leave plain or in a block, but Go's YAML 1.1 reader (kubectl,
 * client-go's kubeconfig loading) takes as line breaks: it refuses them or changes the value. */
const AWKWARD = [
  'a\u2028b',
  '--flag=x\u2029y',
  'line one\nline two\u2028three\n',
  'nel\u0085x',
  'bom\ufeffx',
  'tab\there',
  'cr\rx',
  'a\u2028b\u0085c\u2029d',
];

describe('kubeYaml', () => {
  it('round-trips every awkward string through our own parser', () => {
    for (const s of AWKWARD) expect(parse(kubeYaml({ v: s, [s]: 1 }))).toEqual({ v: s, [s]: 1 });
  });

  it('keeps ordinary strings plain and PEM blocks literal, as before', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    expect(kubeYaml({ name: 'gateway', pem })).toBe(
      `name: gateway\npem: |\n  ${pem.trimEnd().replace(/\n/g, '\n  ')}\n`,
    );
  });

  it('joins documents with --- lines', () => {
    expect(toYamlStream([{ a: 1 }, { b: 2 }])).toBe('a: 1\n---\nb: 2\n');
  });
});

describe('kubeYaml read by the real kubectl', () => {
  let sb: Sandbox;
  let dir: string;
  beforeAll(async () => {
    sb = await startSandbox({ name: 'kube-yaml' });
    dir = mkdtempSync(join(tmpdir(), 'kube-yaml-'));
    writeFileSync(join(dir, 'kubeconfig'), sb.kubeconfig());
  });
  afterAll(async () => {
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function kubectlJson(file: string): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve) => {
      const child = spawn('kubectl', [
        '--kubeconfig',
        join(dir, 'kubeconfig'),
        'create',
        '--dry-run=client',
        '--validate=false',
        '-o',
        'json',
        '-f',
        file,
      ]);
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => resolve({ code, out, err }));
    });
  }

  it('gives kubectl every awkward string back unchanged', async () => {
    const data = Object.fromEntries(AWKWARD.map((s, i) => [`k${i}`, s]));
    const file = join(dir, 'cm.yaml');
    writeFileSync(
      file,
      kubeYaml({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'awkward', namespace: 'default' },
        data,
      }),
    );
    const r = await kubectlJson(file);
    expect(r.err).toBe('');
    expect(JSON.parse(r.out).data).toEqual(data);
  });
});
