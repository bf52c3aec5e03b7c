import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KubeClient } from './client.js';
import {
  loadDefault,
  loadInCluster,
  loadKubeconfigFiles,
  loadKubeconfigSecret,
  loadKubeconfigString,
} from './kubeconfig.js';

const good = `
apiVersion: v1
kind: Config
current-context: east
clusters:
- name: east
  cluster: { server: "https://127.0.0.1:6443" }
users:
- name: admin
  user: { token: abc }
contexts:
- name: east
  context: { cluster: east, user: admin }
- name: nocluster
  context: { cluster: missing, user: admin }
`;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('kubeconfig loading', () => {
  it('loads a valid kubeconfig and picks the context', () => {
    const kc = loadKubeconfigString(good);
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
  });

  it.each([
    ['not YAML', 'clusters: [unclosed', /not YAML/],
    ['a scalar', 'hello', /not a kubeconfig/],
    ['no contexts', 'clusters: []\ncontexts: []', /no contexts/],
    [
      'no server',
      good.replace('server: "https://127.0.0.1:6443"', 'insecure-skip-tls-verify: true'),
      /has no server/,
    ],
    ['bad server', good.replace('https://127.0.0.1:6443', 'ftp://x'), /must be http/],
    [
      'unknown user',
      good.replace('{ cluster: east, user: admin }', '{ cluster: east, user: ghost }'),
      /user "ghost" not found/,
    ],
  ])('%s → KUBECONFIG_INVALID', (_name, text, message) => {
    expect(() => loadKubeconfigString(text)).toThrow(message);
    try {
      loadKubeconfigString(text);
    } catch (err) {
      expect((err as { code?: string }).code).toBe('KUBECONFIG_INVALID');
    }
  });

  it('names an unknown context and lists the known ones', () => {
    expect(() => loadKubeconfigString(good, 'west')).toThrow(
      'context "west" not found (contexts: east, nocluster)',
    );
    expect(() => loadKubeconfigString(good, 'nocluster')).toThrow('cluster "missing" not found');
  });

  it('reads a Link secret (base64 data) and names a missing key', () => {
    const secret = {
      metadata: { namespace: 'isthmus-system', name: 'cluster-credentials-west' },
      type: 'mirror.linkerd.io/remote-kubeconfig',
      data: { kubeconfig: Buffer.from(good).toString('base64') },
    };
    expect(loadKubeconfigSecret(secret).getCurrentContext()).toBe('east');
    expect(() => loadKubeconfigSecret({ ...secret, data: { config: 'eA==' } })).toThrow(
      'secret isthmus-system/cluster-credentials-west: missing key "kubeconfig" (keys: config)',
    );
  });

  it('a missing file is a clear error, and KubeClient.fromKubeconfigFile uses the file', () => {
    expect(() => KubeClient.fromKubeconfigFile('/nonexistent/kubeconfig')).toThrow(/cannot read: ENOENT/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kc-'));
    dirs.push(dir);
    const file = path.join(dir, 'config');
    fs.writeFileSync(file, good);
    const client = KubeClient.fromKubeconfigFile(file);
    expect(client.server).toBe('https://127.0.0.1:6443/');
    client.close();
  });

  it('a certificate file the kubeconfig names but that cannot be read is KUBECONFIG_INVALID naming it', () => {
    const withFiles = good
      .replace(
        'cluster: { server: "https://127.0.0.1:6443" }',
        'cluster: { server: "https://127.0.0.1:6443", certificate-authority: /nonexistent/ca.crt }',
      )
      .replace(
        'user: { token: abc }',
        'user: { client-certificate: /nonexistent/tls.crt, client-key: /nonexistent/tls.key }',
      );
    let caught: unknown;
    try {
      KubeClient.fromKubeconfigString(withFiles).close();
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'KUBECONFIG_INVALID', terminal: true });
    expect(String((caught as Error).message)).toMatch(
      /certificate-authority .*\/nonexistent\/ca\.crt.*ENOENT/,
    );
  });

  it('in-cluster without the environment says so', () => {
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      expect(() => KubeClient.inCluster()).toThrow(/KUBERNETES_SERVICE_HOST/);
    } finally {
      if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    }
  });

  it('fromDefault follows $KUBECONFIG and names missing files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kc-'));
    dirs.push(dir);
    const file = path.join(dir, 'config');
    fs.writeFileSync(file, good);
    const saved = process.env.KUBECONFIG;
    try {
      process.env.KUBECONFIG = [path.join(dir, 'absent'), file].join(path.delimiter);
      expect(loadDefault().getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
      process.env.KUBECONFIG = path.join(dir, 'absent');
      expect(() => KubeClient.fromDefault()).toThrow(/\$KUBECONFIG: none of .*absent exists/);
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it('merges a $KUBECONFIG list as kubectl does: one file per cluster, the first to name a thing wins', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kc-'));
    dirs.push(dir);
    fs.mkdirSync(path.join(dir, 'west'));
    const eastFile = path.join(dir, 'east.yaml');
    fs.writeFileSync(eastFile, good);
    const westFile = path.join(dir, 'west', 'config');
    fs.writeFileSync(
      westFile,
      [
        'current-context: west',
        'clusters:',
        '- name: west',
        '  cluster: { server: "https://10.0.0.2:6443", certificate-authority: ca.crt }',
        '- name: east',
        '  cluster: { server: "https://10.9.9.9:6443" }',
        'users:',
        '- name: west-admin',
        '  user: { client-certificate: tls/admin.crt, client-key: /abs/admin.key }',
        'contexts:',
        '- name: west',
        '  context: { cluster: west, user: west-admin }',
      ].join('\n'),
    );
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    const saved = process.env.KUBECONFIG;
    try {
      process.env.KUBECONFIG = [eastFile, path.join(dir, 'absent'), empty, westFile].join(path.delimiter);
      // current-context: the first file's; east's cluster: the first file's, not west's copy.
      expect(loadDefault().getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
      const west = loadDefault('west');
      expect(west.getCurrentCluster()).toMatchObject({
        server: 'https://10.0.0.2:6443',
        caFile: path.join(dir, 'west', 'ca.crt'), // relative to its own file
      });
      expect(west.getCurrentUser()).toMatchObject({
        certFile: path.join(dir, 'west', 'tls', 'admin.crt'),
        keyFile: '/abs/admin.key',
      });
      expect(() => loadDefault('north')).toThrow(
        /\$KUBECONFIG \(.*east\.yaml, .*west\/config\): context "north" not found \(contexts: east, nocluster, west\)/,
      );
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it('resolves token files and exec commands against their own file, and reads only the user in use', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kc-'));
    dirs.push(dir);
    fs.mkdirSync(path.join(dir, 'b'));
    const a = path.join(dir, 'a');
    fs.writeFileSync(a, good);
    const b = path.join(dir, 'b', 'config');
    fs.writeFileSync(path.join(dir, 'b', 'token'), 'tok-b');
    fs.writeFileSync(
      b,
      [
        'clusters:',
        '- name: b',
        '  cluster: { server: "https://10.0.0.2:6443" }',
        '- name: c',
        '  cluster: { server: "https://10.0.0.3:6443" }',
        'users:',
        '- name: b',
        '  user: { token-file: token }',
        '- name: c',
        '  user: { exec: { apiVersion: client.authentication.k8s.io/v1, command: ./bin/auth } }',
        '- name: d',
        '  user: { exec: { apiVersion: client.authentication.k8s.io/v1, command: aws } }',
        '- name: gone',
        '  user: { token-file: /nonexistent/token }',
        'contexts:',
        '- name: b',
        '  context: { cluster: b, user: b }',
        '- name: c',
        '  context: { cluster: c, user: c }',
        '- name: d',
        '  context: { cluster: c, user: d }',
      ].join('\n'),
    );
    // A user of another file whose token file is missing does not break this context.
    expect(loadKubeconfigFiles([a, b]).getCurrentUser()?.name).toBe('admin');
    expect(loadKubeconfigFiles([a, b], 'b').getCurrentUser()?.token).toBe('tok-b');
    expect(loadKubeconfigFiles([a, b], 'c').getCurrentUser()?.exec?.command).toBe(
      path.join(dir, 'b', 'bin', 'auth'),
    );
    expect(loadKubeconfigFiles([a, b], 'd').getCurrentUser()?.exec?.command).toBe('aws'); // looked up on $PATH
  });

  it('refuses a file that names a cluster, user or context twice, as client-go does', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kc-'));
    dirs.push(dir);
    const twice = path.join(dir, 'twice');
    fs.writeFileSync(twice, `${good}- name: east\n  context: { cluster: east, user: admin }\n`);
    expect(() => loadKubeconfigFiles([twice])).toThrow(/twice: duplicate name "east" in contexts/);
  });

  it('names the file of a $KUBECONFIG list that is broken', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kc-'));
    dirs.push(dir);
    const first = path.join(dir, 'first');
    const broken = path.join(dir, 'broken');
    const scalar = path.join(dir, 'scalar');
    fs.writeFileSync(first, good);
    fs.writeFileSync(broken, 'clusters: [unclosed');
    fs.writeFileSync(scalar, 'hello');
    expect(() => loadKubeconfigFiles([first, broken])).toThrow(/broken: not YAML/);
    expect(() => loadKubeconfigFiles([first, scalar])).toThrow(/scalar: not a kubeconfig/);
  });

  it('in-cluster reads the service account token file', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sa-'));
    dirs.push(root);
    const sa = path.join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    fs.mkdirSync(sa, { recursive: true });
    fs.writeFileSync(path.join(sa, 'token'), 'sa-token');
    fs.writeFileSync(path.join(sa, 'ca.crt'), 'not checked until connect');
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    try {
      const kc = loadInCluster(root);
      expect(kc.getCurrentCluster()?.server).toBe('https://10.96.0.1:443');
      expect(() => loadInCluster(path.join(root, 'elsewhere'))).toThrow(/token does not exist/);
    } finally {
      for (const [k, v] of [
        ['KUBERNETES_SERVICE_HOST', saved.host],
        ['KUBERNETES_SERVICE_PORT', saved.port],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
