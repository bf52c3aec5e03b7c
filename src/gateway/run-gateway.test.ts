import { AsyncResource } from 'node:async_hooks';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { splitPem } from '../identity/pem.js';
import { identityServiceId } from '../identity/spiffe.js';
import {
  servingCredentials,
  startFakeIdentity,
  TEST_TRUST_DOMAIN,
  testCrlBundle,
  testPki,
  testServingCertificate,
} from '../identity/testing.js';
import { gatewayOptionsFromFlags } from './config.js';
import { canConnect, freePort, gatewayFlags, waitFor } from './e2e/fixtures.js';
import { readinessOf, runGateway } from './run-gateway.js';
import { serveGateway } from './serve.js';
import { gatewayClusterLifecycle } from './test-support/lifecycle.js';

const HOST = '127.0.61.1';

describe('readinessOf', () => {
  const synced = { hasSynced: () => true };
  const pending = { hasSynced: () => false };
  it.each([
    [{ certificates: true, egressApplied: true }, { exports: synced, links: synced }, []],
    [{ certificates: false, egressApplied: false }, { exports: synced }, ['certificates not loaded']],
    [{ certificates: true, egressApplied: false }, { exports: synced }, ['egress listeners not applied']],
    [
      { certificates: true, egressApplied: true },
      { exports: pending, links: pending },
      ['exports not synced', 'links not synced'],
    ],
  ])('%j %#', (state, informers, reasons) => {
    expect(readinessOf(state, informers)).toEqual({ ready: reasons.length === 0, reasons });
  });

  it('an expired certificate (renewal kept failing) makes the gateway unready: every peer refuses it', () => {
    const state = { certificates: true, egressApplied: true, certificateNotAfter: new Date(60_000) };
    expect(readinessOf(state, { exports: synced }, 59_000)).toEqual({ ready: true, reasons: [] });
    expect(readinessOf(state, { exports: synced }, 61_000)).toEqual({
      ready: false,
      reasons: ['certificate expired at 1970-01-01T00:01:00.000Z and not renewed'],
    });
  });
});

describe('runGateway start-up failures leave nothing behind', () => {
  const cluster = gatewayClusterLifecycle('west');
  const silent = pino({ level: 'silent' });

  it('rejects on an unreadable trust anchor and closes the admin port it opened', async () => {
    const admin = await freePort(HOST);
    const flags = {
      ...gatewayFlags(cluster(), 'west', HOST, { admin }),
      caFile: `${cluster().certs.dir}/missing.crt`,
    };
    await expect(
      runGateway(gatewayOptionsFromFlags(flags), { logger: silent, processMetrics: false }),
    ).rejects.toThrow(/ENOENT/);
    expect(await canConnect(HOST, admin)).toBe(false);
  });

  it('rejects on a malformed CRL file, naming it, and closes the admin port it opened', async () => {
    const admin = await freePort(HOST);
    const crlFile = `${cluster().certs.dir}/crl.pem`;
    await writeFile(crlFile, '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n');
    const flags = { ...gatewayFlags(cluster(), 'west', HOST, { admin }), crlFile };
    const err = await runGateway(gatewayOptionsFromFlags(flags), {
      logger: silent,
      processMetrics: false,
    }).catch((e) => e);
    expect(isIsthmusError(err, 'CRL_INVALID')).toBe(true);
    expect(err.message).toContain(crlFile);
    expect(await canConnect(HOST, admin)).toBe(false);
  });

  // Every other line of the gateway is JSON (pino): a plain `error [CRL_INVALID]: …` on stderr was
  // the one line of a crash-looping pod that log pipelines could not parse.
  it('as a process, reports a start it cannot make as one JSON log line and exits 1', async () => {
    const admin = await freePort(HOST);
    const crlFile = `${cluster().certs.dir}/fatal-crl.pem`;
    await writeFile(crlFile, 'not a CRL\n');
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const config = gatewayOptionsFromFlags({ ...gatewayFlags(cluster(), 'west', HOST, { admin }), crlFile });
    const before = process.exitCode;
    // serveGateway installs the process-wide cheap AsyncResource.bind; this worker's other test
    // files (async-resource-bind.test.ts) must find Node's own.
    const nodeBind = AsyncResource.prototype.bind;
    try {
      await serveGateway(config, logger);
      expect(process.exitCode).toBe(1);
    } finally {
      process.exitCode = before;
      AsyncResource.prototype.bind = nodeBind;
    }
    const fatal = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 60);
    expect(fatal).toEqual([
      expect.objectContaining({ code: 'CRL_INVALID', err: expect.stringContaining(crlFile) }),
    ]);
    expect(await canConnect(HOST, admin)).toBe(false);
  });

  it('stops waiting for a certificate when aborted', async () => {
    const admin = await freePort(HOST);
    const { certFile: _c, keyFile: _k, ...rest } = gatewayFlags(cluster(), 'west', HOST, { admin });
    // An identity service that is not there: the rotator retries until the abort.
    const identity = `${HOST}:${await freePort(HOST)}`;
    const config = gatewayOptionsFromFlags({
      ...rest,
      identityAddress: identity,
      tokenFile: cluster().kubeconfigFile,
    });
    const abort = new AbortController();
    const running = runGateway(config, { logger: silent, processMetrics: false, signal: abort.signal });
    const observed = running.catch((err: unknown) => err);
    // The admin port answers (and says why not ready) while the certificate is awaited.
    let notReady = '';
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const res = await fetch(`http://${HOST}:${admin}/ready`).catch(() => undefined);
      if (res !== undefined) {
        notReady = await res.text();
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(notReady).toContain('certificates not loaded');
    abort.abort();
    expect(await observed).toBeInstanceOf(Error);
    expect(await canConnect(HOST, admin)).toBe(false);
  });

  it('sends no token to an identity service whose serving certificate its CRL revokes, and logs why', async () => {
    const { certFile: _c, keyFile: _k, ...rest } = gatewayFlags(cluster(), 'west', HOST);
    const serving = testServingCertificate(testPki().issuers.west, [
      identityServiceId(TEST_TRUST_DOMAIN, 'west'),
    ]);
    const serial = new X509Certificate(splitPem(serving.chainPem)[0]!).serialNumber;
    const fake = await startFakeIdentity(servingCredentials(serving));
    const crlFile = `${cluster().certs.dir}/identity-crl.pem`;
    await writeFile(crlFile, testCrlBundle(testPki().issuers.west, [serial]));
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) });
    const config = gatewayOptionsFromFlags({
      ...rest,
      identityAddress: fake.address,
      tokenFile: cluster().kubeconfigFile,
      crlFile,
    });
    const abort = new AbortController();
    const observed = runGateway(config, { logger, processMetrics: false, signal: abort.signal }).catch(
      (err: unknown) => err,
    );
    try {
      const failed = await waitFor('a failed certificate request logged', () =>
        lines.find((l) => l.includes('certificate renewal failed')),
      );
      expect(failed).toMatch(
        new RegExp(
          `its serving certificate is refused: certificate serial ${serial} is revoked by its issuer's CRL`,
        ),
      );
      expect(fake.tokens).toEqual([]);
    } finally {
      abort.abort();
      await observed;
      fake.close();
    }
  });
});
