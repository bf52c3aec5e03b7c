/**
 * `isthmus upgrade`'s reads: the install's record, its trust anchor and its issuer, from the
 * cluster, unless files are given for them. With the plan (plan-upgrade.ts) they make the same
 * InstallOptions `isthmus install` would make from the full set of flags.
 */
import type { Command } from 'commander';
import { IsthmusError, isIsthmusError } from '../../errors.js';
import type { KeyPairPem } from '../../identity/ca.js';
import {
  checkedAnchorBundle,
  checkedIssuer,
  loadAnchorBundle,
  readIssuerPair,
} from '../../identity/files.js';
import type { KubeClient } from '../../kube/client.js';
import { ISSUER_SECRET, SYSTEM_NAMESPACE, TRUST_ANCHOR_CONFIGMAP } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1ConfigMap, V1Secret } from '../../kube/types.js';
import { VERSION } from '../../version.js';
import { type InstallFlags, installOptionsFromFlags, issuerFiles } from '../commands/install.js';
import { givenInstallFlags, INSTALL_FLAG_KINDS, installFlagsOf } from '../install/install-flags.js';
import {
  INSTALL_RECORD_CONFIGMAP,
  type InstallRecord,
  type ObjectRef,
  objectLine,
  parseInstallRecord,
} from '../install/install-record.js';
import type { InstallOptions } from '../install/options.js';
import { installManifests } from '../install/render.js';
import { unsetName, upgradeFlags, upgradeNotes } from './plan-upgrade.js';

export interface UpgradeResult {
  options: InstallOptions;
  notes: string[];
}

async function readRecord(client: KubeClient, dropping: readonly string[]): Promise<InstallRecord> {
  const cm = await client.get<V1ConfigMap>(R.configMaps, SYSTEM_NAMESPACE, INSTALL_RECORD_CONFIGMAP);
  if (!cm) {
    throw new IsthmusError(
      'USAGE',
      `no ConfigMap ${SYSTEM_NAMESPACE}/${INSTALL_RECORD_CONFIGMAP} in this cluster: it is not installed, or was installed by an isthmus that did not record its flags; run isthmus install with every flag once (it records them), and upgrade from then on`,
      { terminal: true },
    );
  }
  return parseInstallRecord(cm, (flag) => INSTALL_FLAG_KINDS.get(flag), dropping);
}

const inCluster = (kind: string, name: string) => `${kind} ${SYSTEM_NAMESPACE}/${name}`;

async function clusterAnchor(client: KubeClient): Promise<string> {
  const cm = await client.get<V1ConfigMap>(R.configMaps, SYSTEM_NAMESPACE, TRUST_ANCHOR_CONFIGMAP);
  const pem = cm?.data?.['ca.crt'];
  if (!pem) {
    throw new IsthmusError(
      'USAGE',
      `no trust anchor in ${inCluster('ConfigMap', TRUST_ANCHOR_CONFIGMAP)} (key ca.crt): give it with --trust-anchor`,
      { terminal: true },
    );
  }
  return checkedAnchorBundle(pem, inCluster('ConfigMap', TRUST_ANCHOR_CONFIGMAP));
}

async function clusterIssuer(client: KubeClient): Promise<KeyPairPem> {
  const source = inCluster('Secret', ISSUER_SECRET);
  let secret: V1Secret | undefined;
  try {
    secret = await client.get<V1Secret>(R.secrets, SYSTEM_NAMESPACE, ISSUER_SECRET);
  } catch (err) {
    throw new IsthmusError(
      'USAGE',
      `cannot read the issuer from ${source} (${(err as Error).message}): give it with --issuer-cert and --issuer-key`,
      { terminal: true, cause: err },
    );
  }
  const decode = (key: string) => {
    const b64 = secret?.data?.[key];
    return b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
  };
  const certPem = decode('tls.crt');
  const keyPem = decode('tls.key');
  if (!certPem || !keyPem) {
    throw new IsthmusError(
      'USAGE',
      `no issuer in ${source} (keys tls.crt and tls.key): give it with --issuer-cert and --issuer-key, or --external-issuer if cert-manager writes it`,
      { terminal: true },
    );
  }
  return { certPem, keyPem };
}

/** Each certificate from its file when one is given, else from the running install. */
async function upgradeCertificates(
  client: KubeClient,
  flags: InstallFlags,
): Promise<{ anchorPem?: string; issuer?: KeyPairPem }> {
  if (flags.gateway === false) return {};
  const anchorPem = flags.trustAnchor
    ? await loadAnchorBundle(flags.trustAnchor)
    : await clusterAnchor(client);
  if (flags.externalIssuer || flags.issuerCert || flags.issuerKey) {
    const files = issuerFiles(flags);
    if (!files) return { anchorPem };
    const pair = await readIssuerPair(files.certFile, files.keyFile);
    return {
      anchorPem,
      issuer: checkedIssuer(pair, anchorPem, { scope: scopeOf(flags), source: files.certFile }),
    };
  }
  const pair = await clusterIssuer(client);
  return {
    anchorPem,
    issuer: checkedIssuer(pair, anchorPem, {
      scope: scopeOf(flags),
      source: inCluster('Secret', ISSUER_SECRET),
    }),
  };
}

const scopeOf = (flags: InstallFlags) => ({ cluster: flags.clusterName, trustDomain: flags.trustDomain });

/** The defaults commander filled in: what neither the record nor the command line set. */
function defaultsOf(cmd: Command): Record<string, unknown> {
  const opts = cmd.opts();
  return Object.fromEntries(
    Object.entries(opts).filter(([key]) => cmd.getOptionValueSource(key) === 'default'),
  );
}

/** Install's flag errors, with the way out a recorded flag has (upgrade cannot take it back by omission). */
function withUnsetHint<T>(render: () => T): T {
  try {
    return render();
  } catch (err) {
    if (!isIsthmusError(err, 'USAGE')) throw err;
    throw new IsthmusError('USAGE', `${err.message} (a recorded flag is dropped with --unset <flag>)`, {
      terminal: true,
      cause: err,
    });
  }
}

export async function runUpgrade(
  client: KubeClient,
  cmd: Command,
  unset: readonly string[],
): Promise<UpgradeResult> {
  const dropping = unset.map(unsetName);
  const record = await readRecord(client, dropping);
  const flags = upgradeFlags(record, givenInstallFlags(cmd), dropping, INSTALL_FLAG_KINDS);
  const given = cmd.opts<InstallFlags>();
  const full = {
    ...defaultsOf(cmd),
    ...installFlagsOf(cmd, flags),
    trustAnchor: given.trustAnchor,
    issuerCert: given.issuerCert,
    issuerKey: given.issuerKey,
  } as InstallFlags;
  const { anchorPem, issuer } = await upgradeCertificates(client, full);
  const options: InstallOptions = {
    ...withUnsetHint(() => installOptionsFromFlags(full, anchorPem, issuer)),
    recordedFlags: flags,
  };
  const rendered = (installManifests(options) as ObjectRef[]).map(objectLine);
  return { options, notes: upgradeNotes(record, flags, rendered, VERSION) };
}
