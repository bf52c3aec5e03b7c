/**
 * `isthmus upgrade`'s reads: the install's record, its trust anchor and its issuer, from the
 * cluster, unless files are given for them. With the plan (plan-upgrade.ts) they make the same
 * InstallOptions `isthmus install` would make from the full set of flags.
 */
import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import { describeError, IsthmusError, isIsthmusError } from '../../errors.js';
import type { KeyPairPem } from '../../identity/ca.js';
import {
  checkedAnchorBundle,
  checkedIssuer,
  loadAnchorBundle,
  readIssuerPair,
} from '../../identity/files.js';
import { splitPem } from '../../identity/pem.js';
import { anchorBundleWarnings } from '../../identity/validate.js';
import type { KubeClient } from '../../kube/client.js';
import { ISSUER_SECRET, SYSTEM_NAMESPACE, TRUST_ANCHOR_CONFIGMAP } from '../../kube/keys.js';
import { R, resourceOfKind } from '../../kube/resources.js';
import type { V1ConfigMap, V1Secret } from '../../kube/types.js';
import { VERSION } from '../../version.js';
import { type InstallFlags, installOptionsFromFlags, issuerFiles } from '../commands/install.js';
import { kubeTargetArgs } from '../common-flags.js';
import { givenInstallFlags, INSTALL_FLAG_KINDS, installFlagsOf } from '../install/install-flags.js';
import {
  INSTALL_RECORD_CONFIGMAP,
  type InstallRecord,
  type ObjectRef,
  objectLine,
  parseInstallRecord,
  staleObjects,
} from '../install/install-record.js';
import type { InstallOptions } from '../install/options.js';
import { installManifests } from '../install/render.js';
import {
  anchorReplacement,
  gatewayRestartNote,
  unsetName,
  upgradeFlags,
  upgradeNotes,
} from './plan-upgrade.js';

export interface UpgradeResult {
  options: InstallOptions;
  notes: string[];
  /** What is wrong but harmless in what is applied, each naming where it comes from. */
  warnings: string[];
}

/** Upgrade's own switches (not install flags: never recorded). */
export interface UpgradeSwitches {
  /** `--replace-trust-anchor`: a `--trust-anchor` that keeps none of the installed anchors is meant. */
  replaceTrustAnchor?: boolean;
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

async function clusterAnchorPem(client: KubeClient): Promise<string | undefined> {
  const cm = await client.get<V1ConfigMap>(R.configMaps, SYSTEM_NAMESPACE, TRUST_ANCHOR_CONFIGMAP);
  return cm?.data?.['ca.crt'];
}

async function clusterAnchor(client: KubeClient): Promise<string> {
  const pem = await clusterAnchorPem(client);
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
  if (!secret) {
    throw new IsthmusError(
      'USAGE',
      `no Secret ${SYSTEM_NAMESPACE}/${ISSUER_SECRET}: give the issuer with --issuer-cert and --issuer-key, or --external-issuer if cert-manager writes it`,
      { terminal: true },
    );
  }
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

/**
 * Each certificate from its file when one is given, else from the running install; with a note
 * when a file replaces what the cluster has, since that is the change the user is making.
 */
async function upgradeCertificates(
  client: KubeClient,
  flags: InstallFlags,
  switches: UpgradeSwitches,
  kubectlFlags: readonly string[],
): Promise<{ anchorPem?: string; issuer?: KeyPairPem; notes: string[]; warnings: string[] }> {
  const certificates = await anchorAndIssuer(client, flags, switches, kubectlFlags);
  const { anchorPem } = certificates;
  const source = flags.trustAnchor ?? inCluster('ConfigMap', TRUST_ANCHOR_CONFIGMAP);
  // An expired extra anchor (step 3 of a rotation late) is applied, but said (validate.ts).
  const warnings =
    anchorPem === undefined ? [] : anchorBundleWarnings(anchorPem, new Date()).map((w) => `${source}: ${w}`);
  return { ...certificates, warnings };
}

async function anchorAndIssuer(
  client: KubeClient,
  flags: InstallFlags,
  switches: UpgradeSwitches,
  kubectlFlags: readonly string[],
): Promise<{ anchorPem?: string; issuer?: KeyPairPem; notes: string[] }> {
  if (flags.gateway === false) return { notes: [] };
  const replace = switches.replaceTrustAnchor === true;
  const notes: string[] = [];
  const inForce = (read: () => Promise<string | undefined>) => read().catch(() => undefined);
  let anchorPem: string;
  if (flags.trustAnchor) {
    anchorPem = await loadAnchorBundle(flags.trustAnchor);
    // Absent (404) reads as undefined; any other failure must not pass for "nothing installed",
    // which would let a swap skip the check below.
    const before = await clusterAnchorPem(client).catch((err: unknown) => {
      if (replace) return undefined;
      throw new IsthmusError(
        'USAGE',
        `cannot read the installed trust anchor (${inCluster('ConfigMap', TRUST_ANCHOR_CONFIGMAP)}: ${describeError(err)}) to check that --trust-anchor keeps it; fix the access, or pass --replace-trust-anchor to swap without that check`,
        { terminal: true, cause: err },
      );
    });
    // Before the issuer: a swap skipping the rotation's steps is refused whatever issuer comes with it.
    const swap = anchorReplacement({
      installedPem: before,
      givenPem: anchorPem,
      givenFile: flags.trustAnchor,
      replace,
      kubectlFlags,
    });
    // The swap's note says the restart too: once is enough.
    if (before !== undefined && serials(before) !== serials(anchorPem))
      notes.push(
        `the trust anchor changes: ${serials(before)} → ${serials(anchorPem)} (serials)${swap ? '' : `; ${gatewayRestartNote(kubectlFlags)}`}`,
      );
    if (swap) notes.push(swap);
  } else {
    anchorReplacement({ installedPem: undefined, givenPem: undefined, replace });
    anchorPem = await clusterAnchor(client);
  }
  if (flags.externalIssuer || flags.issuerCert || flags.issuerKey) {
    const files = issuerFiles(flags);
    if (!files) return { anchorPem, notes };
    const pair = await readIssuerPair(files.certFile, files.keyFile);
    const issuer = checkedIssuer(pair, anchorPem, { scope: scopeOf(flags), source: files.certFile });
    const before = await inForce(async () => (await clusterIssuer(client)).certPem);
    if (before !== undefined && serials(before) !== serials(issuer.certPem))
      notes.push(`the issuer changes: serial ${serials(before)} → ${serials(issuer.certPem)}`);
    return { anchorPem, issuer, notes };
  }
  const pair = await clusterIssuer(client);
  return {
    anchorPem,
    issuer: checkedIssuer(pair, anchorPem, {
      scope: scopeOf(flags),
      source: inCluster('Secret', ISSUER_SECRET),
    }),
    notes,
  };
}

/** The serial numbers of the certificates in a PEM text, comma-separated. */
function serials(pem: string): string {
  return splitPem(pem)
    .map((c) => new X509Certificate(c).serialNumber)
    .join(', ');
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
  switches: UpgradeSwitches = {},
): Promise<UpgradeResult> {
  const dropping = unset.map(unsetName);
  const record = await readRecord(client, dropping);
  const flags = upgradeFlags(record, givenInstallFlags(cmd), dropping, INSTALL_FLAG_KINDS);
  const given = cmd.opts<InstallFlags & { kubeconfig?: string; context?: string }>();
  const full = {
    ...defaultsOf(cmd),
    ...installFlagsOf(cmd, flags),
    trustAnchor: given.trustAnchor,
    issuerCert: given.issuerCert,
    issuerKey: given.issuerKey,
  } as InstallFlags;
  const kubectlFlags = kubeTargetArgs(given);
  const {
    anchorPem,
    issuer,
    notes: certNotes,
    warnings,
  } = await upgradeCertificates(client, full, switches, kubectlFlags);
  const options: InstallOptions = {
    ...withUnsetHint(() => installOptionsFromFlags(full, anchorPem, issuer)),
    recordedFlags: flags,
  };
  const rendered = (installManifests(options) as ObjectRef[]).map(objectLine);
  // With --external-issuer the issuer Secret is cert-manager's now, not a leftover to delete.
  const stale = staleObjects(record.objects, rendered).filter(
    (line) => !(full.externalIssuer && line === ISSUER_SECRET_LINE),
  );
  // Recorded until deleted, so a later upgrade names them again rather than forgetting them.
  const leftovers = await stillThere(client, stale);
  return {
    options: { ...options, leftoverObjects: leftovers },
    notes: [...upgradeNotes(record, flags, leftovers, { cliVersion: VERSION, kubectlFlags }), ...certNotes],
    warnings,
  };
}

const ISSUER_SECRET_LINE = `v1 Secret ${SYSTEM_NAMESPACE}/${ISSUER_SECRET}`;

/** The recorded objects that still exist; one that cannot be looked up counts as there. */
async function stillThere(client: KubeClient, lines: readonly string[]): Promise<string[]> {
  const found = await Promise.all(
    lines.map(async (line) => {
      const [, kind = '', ref = ''] = line.split(' ');
      const [namespace, name] = ref.includes('/') ? ref.split('/') : [undefined, ref];
      const res = resourceOfKind(kind);
      if (!res) return true;
      try {
        return (await client.get(res, namespace, name!)) !== undefined;
      } catch {
        return true;
      }
    }),
  );
  return lines.filter((_, i) => found[i]);
}
