/**
 * Loading kubeconfigs with clear errors. client-node's loaders throw deep TypeErrors (or silently
 * fall back to http://localhost:8080) on bad input; Link credentials come from users, so every
 * problem is reported as KUBECONFIG_INVALID naming what is wrong and where the config came from.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { parse as parseYaml } from 'yaml';
import { IsthmusError } from '../errors.js';
import { REMOTE_KUBECONFIG_KEY } from './keys.js';
import type { V1Secret } from './types.js';

/** Service account files of an in-cluster pod (Kubernetes docs, "Accessing the API from a Pod"). */
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

function invalid(source: string, message: string, cause?: unknown): IsthmusError {
  return new IsthmusError('KUBECONFIG_INVALID', `${source}: ${message}`, { cause, terminal: true });
}

interface Named {
  name?: unknown;
}

function names(list: unknown): string[] {
  return Array.isArray(list) ? list.map((e: Named) => String(e?.name ?? '')) : [];
}

/** Checks the shape client-node silently assumes, before handing the text to it. */
function validateDocument(doc: unknown, source: string, context: string | undefined): void {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw invalid(source, 'not a kubeconfig (expected a YAML mapping with clusters, users and contexts)');
  }
  const d = doc as Record<string, unknown>;
  const contexts = Array.isArray(d.contexts)
    ? (d.contexts as { name?: string; context?: Record<string, unknown> }[])
    : [];
  if (contexts.length === 0) throw invalid(source, 'no contexts');
  const wanted = context ?? (typeof d['current-context'] === 'string' ? d['current-context'] : undefined);
  if (wanted === undefined || wanted === '') {
    throw invalid(source, `no current-context and none given (contexts: ${names(contexts).join(', ')})`);
  }
  const ctx = contexts.find((c) => c?.name === wanted);
  if (!ctx) throw invalid(source, `context "${wanted}" not found (contexts: ${names(contexts).join(', ')})`);
  const clusterName = ctx.context?.cluster;
  if (typeof clusterName !== 'string' || clusterName === '') {
    throw invalid(source, `context "${wanted}" names no cluster`);
  }
  const clusters = Array.isArray(d.clusters)
    ? (d.clusters as { name?: string; cluster?: Record<string, unknown> }[])
    : [];
  const cluster = clusters.find((c) => c?.name === clusterName);
  if (!cluster) throw invalid(source, `context "${wanted}": cluster "${clusterName}" not found`);
  const server = cluster.cluster?.server;
  if (typeof server !== 'string' || server === '') {
    throw invalid(source, `cluster "${clusterName}" has no server`);
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw invalid(source, `cluster "${clusterName}": server "${server}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalid(source, `cluster "${clusterName}": server "${server}" must be http(s)`);
  }
  const userName = ctx.context?.user;
  if (typeof userName === 'string' && userName !== '' && !names(d.users).includes(userName)) {
    throw invalid(source, `context "${wanted}": user "${userName}" not found`);
  }
}

/** Parses and validates a kubeconfig; `source` names it in errors (a path, "secret ns/name"). */
export function loadKubeconfigString(text: string, context?: string, source = 'kubeconfig'): KubeConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw invalid(
      source,
      `not YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      err,
    );
  }
  validateDocument(doc, source, context);
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
    if (context !== undefined) kc.setCurrentContext(context);
  } catch (err) {
    throw invalid(source, err instanceof Error ? err.message : String(err), err);
  }
  return kc;
}

export function loadKubeconfigFile(file: string, context?: string): KubeConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw invalid(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err);
  }
  const kc = loadKubeconfigString(text, context, file);
  // Relative certificate-authority/client-certificate paths are relative to the file, as in kubectl.
  kc.makePathsAbsolute(path.dirname(path.resolve(file)));
  return kc;
}

/**
 * A Link's credentials Secret (type mirror.linkerd.io/remote-kubeconfig): key `kubeconfig`,
 * base64 in `data` (or plain in `stringData`, for objects not yet round-tripped by the server).
 */
export function loadKubeconfigSecret(secret: V1Secret, context?: string): KubeConfig {
  const source = `secret ${secret.metadata?.namespace ?? ''}/${secret.metadata?.name ?? ''}`;
  const encoded = secret.data?.[REMOTE_KUBECONFIG_KEY];
  const plain = secret.stringData?.[REMOTE_KUBECONFIG_KEY];
  if (encoded === undefined && plain === undefined) {
    const keys = Object.keys({ ...secret.data, ...secret.stringData });
    throw invalid(source, `missing key "${REMOTE_KUBECONFIG_KEY}" (keys: ${keys.join(', ') || 'none'})`);
  }
  const text = plain ?? Buffer.from(encoded as string, 'base64').toString('utf8');
  return loadKubeconfigString(text, context, source);
}

/** `pathPrefix` re-roots the service account files (tests); client-node appends its fixed paths to it. */
export function loadInCluster(pathPrefix = ''): KubeConfig {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw invalid(
      'in-cluster',
      'KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not running in a pod?)',
    );
  }
  for (const f of ['token', 'ca.crt']) {
    const file = `${pathPrefix}${SA_DIR}/${f}`;
    if (!fs.existsSync(file)) throw invalid('in-cluster', `${file} does not exist`);
  }
  const kc = new KubeConfig();
  kc.loadFromCluster(pathPrefix);
  return kc;
}

/** $KUBECONFIG (first existing file), else ~/.kube/config, else in-cluster. */
export function loadDefault(context?: string): KubeConfig {
  const env = process.env.KUBECONFIG;
  if (env) {
    const files = env.split(path.delimiter).filter((f) => f !== '');
    const found = files.find((f) => fs.existsSync(f));
    if (!found) throw invalid('$KUBECONFIG', `none of ${files.join(', ')} exists`);
    return loadKubeconfigFile(found, context);
  }
  const home = path.join(os.homedir(), '.kube', 'config');
  if (fs.existsSync(home)) return loadKubeconfigFile(home, context);
  if (process.env.KUBERNETES_SERVICE_HOST) return loadInCluster();
  throw invalid('kubeconfig', `no $KUBECONFIG, no ${home}, and not running in a cluster`);
}
