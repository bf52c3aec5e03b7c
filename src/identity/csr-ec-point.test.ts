/**
 * An ECDSA key no certificate may carry must never reach OpenSSL's EC code (security review): a
 * SubjectPublicKeyInfo of P-256 or P-384 whose key is the point at infinity (its BIT STRING `00 00`)
 * was read by createPublicKey, and asking the KeyObject its curve then aborted Node 20 (a native
 * CHECK in GetEcKeyDetail: SIGABRT, nothing to catch), killing the identity service for anyone with
 * a gateway token, no signature needed; on Node 24 checkCsr threw (the JWK export) and Certify
 * answered INTERNAL. Each case runs in a child process under this Node, so a crash fails the test
 * instead of the test runner.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type Client, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { derToPem } from './pem.js';
import { type CertifyRequest, identityServiceDefinition } from './protocol.js';
import { TEST_TRUST_DOMAIN, testIdentityClient, testPki } from './testing.js';
import { craftedCsr, ecSpki, OID, testKey } from './testing-der.js';
import { GATEWAY_TOKEN } from './testing-flood.js';
import { runOpenssl } from './testing-openssl.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const EAST = `spiffe://${TEST_TRUST_DOMAIN}/cluster/east/gateway`;
const NOT_AS_OPENSSL_WRITES =
  /not encoded as OpenSSL writes it \(DER, a named curve, an uncompressed point\)/;

const p256 = testKey('ec');
/** P-256 and P-384 SubjectPublicKeyInfos holding the point at infinity (X9.62: the single octet 00). */
const INFINITY = {
  'P-256': ecSpki(Buffer.from([0x00]), OID.prime256v1),
  'P-384': ecSpki(Buffer.from([0x00]), OID.secp384r1),
};
/** A CSR holding `spki`, signed by p256: no signature of its own key is needed to reach the key. */
const csrHolding = (spki: Buffer) => craftedCsr({ key: p256, spki });

/** The same P-256 key as OpenSSL writes it with `ec -pubout` and `extra`, as DER. */
function opensslSpki(...extra: string[]): Buffer {
  const keyPem = String(p256.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const made = runOpenssl({ 'key.pem': keyPem }, ['ec', '-in', 'key.pem', '-pubout', ...extra]);
  expect(made.status, made.output).toBe(0);
  const body = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(made.output)?.[1];
  return Buffer.from(body ?? '', 'base64');
}

/** Runs `script` (an ES module importing from the repository) under this Node, `input` on stdin. */
function runChild(script: string, input: unknown) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPO,
    input: JSON.stringify(input),
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe(`keys at no point OpenSSL writes, under Node ${process.versions.node}`, () => {
  /** The point at infinity on P-256 and P-384, a compressed point, explicit curve parameters. */
  const refused = () => [
    INFINITY['P-256'],
    INFINITY['P-384'],
    opensslSpki('-conv_form', 'compressed'),
    opensslSpki('-param_enc', 'explicit'),
  ];

  it('checkCsr answers each as invalid, by name, and the process exits normally', () => {
    const run = runChild(
      `import { readFileSync } from 'node:fs';
       import { checkCsr } from './src/identity/csr.ts';
       const { csrs, identity } = JSON.parse(readFileSync(0, 'utf8'));
       process.stdout.write(JSON.stringify(csrs.map((csr) => checkCsr(csr, identity))));`,
      { csrs: refused().map(csrHolding), identity: EAST },
    );
    expect({ signal: run.signal, status: run.status }, run.stderr).toEqual({ signal: null, status: 0 });
    const decisions = JSON.parse(run.stdout) as unknown[];
    expect(decisions).toHaveLength(4);
    for (const decision of decisions) {
      expect(decision).toMatchObject({
        ok: false,
        status: 'invalid',
        reason: expect.stringMatching(NOT_AS_OPENSSL_WRITES),
      });
    }
  });

  it('publicKeyOf, which issueLeaf certifies the key of, refuses each (CSR_INVALID) and the process exits normally', () => {
    const run = runChild(
      `import { readFileSync } from 'node:fs';
       import { publicKeyOf } from './src/identity/ca.ts';
       const keys = JSON.parse(readFileSync(0, 'utf8'));
       const tried = (pem) => { try { publicKeyOf(pem); return 'certified'; } catch (e) { return e.code + ': ' + e.message; } };
       process.stdout.write(JSON.stringify(keys.map(tried)));`,
      refused().map((spki) => derToPem(spki, 'PUBLIC KEY')),
    );
    expect({ signal: run.signal, status: run.status }, run.stderr).toEqual({ signal: null, status: 0 });
    const answers = JSON.parse(run.stdout) as string[];
    expect(answers).toHaveLength(4);
    for (const answer of answers) {
      expect(answer).toMatch(/^CSR_INVALID: public key refused: /);
      expect(answer).toMatch(NOT_AS_OPENSSL_WRITES);
    }
  });
});

describe('an identity server asked to certify the point at infinity', () => {
  let child: ChildProcess | undefined;
  let client: Client | undefined;
  afterEach(() => {
    client?.close();
    if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  /** A real identity server (east, its TokenReview the gateway token's) in a child under this Node. */
  async function serve(): Promise<{ port: number; exited: Promise<unknown[]>; stderr: () => string }> {
    const script = `
      import { startIdentityServer } from './src/identity/certify-service.ts';
      import { reviewer } from './src/identity/testing-flood.ts';
      const issuer = JSON.parse(process.env.ISTHMUS_TEST_ISSUER);
      const server = await startIdentityServer({
        issuer, trustDomain: '${TEST_TRUST_DOMAIN}', cluster: 'east', reviewer, host: '127.0.0.1', port: 0,
      });
      process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
      process.stdout.write('READY ' + server.port + '\\n');`;
    const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO,
      env: { ...process.env, ISTHMUS_TEST_ISSUER: JSON.stringify(testPki().issuers.east) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let out = '';
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = once(proc, 'exit');
    const port = await new Promise<number>((resolve, reject) => {
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const ready = /READY (\d+)\n/.exec(out);
        if (ready) resolve(Number(ready[1]));
      });
      void exited.then(() => reject(new Error(`the identity server exited before it served: ${err}`)));
    });
    return { port, exited, stderr: () => err };
  }

  /** A Certify call with the gateway's token: its status code and details, or 'issued'. */
  const certify = (c: Client, csrPem: string) => {
    const m = identityServiceDefinition.Certify;
    return new Promise<string>((resolve) =>
      c.makeUnaryRequest(
        m.path,
        (r: CertifyRequest) => m.requestSerialize(r),
        (b: Buffer) => m.responseDeserialize(b),
        { token: GATEWAY_TOKEN, csrPem },
        new Metadata({ waitForReady: true }),
        { deadline: Date.now() + 20_000 },
        (e: ServiceError | null) => resolve(e ? `${e.code} ${e.details}` : 'issued'),
      ),
    );
  };

  it('answers INVALID_ARGUMENT (P-256 and P-384), goes on issuing, and exits normally', async () => {
    const server = await serve();
    client = testIdentityClient(`127.0.0.1:${server.port}`);
    for (const spki of Object.values(INFINITY)) {
      const answer = await certify(client, csrHolding(spki));
      expect(answer, server.stderr()).toMatch(new RegExp(`^${status.INVALID_ARGUMENT} `));
      expect(answer).toMatch(NOT_AS_OPENSSL_WRITES);
    }
    expect(await certify(client, craftedCsr({ key: p256 }))).toBe('issued');
    child!.kill('SIGTERM');
    const [code, signal] = await server.exited;
    expect({ code, signal }, server.stderr()).toEqual({ code: 0, signal: null });
  });
});
