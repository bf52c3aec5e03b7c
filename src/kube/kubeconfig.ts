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
  return loadKubeconfigDocument(parseDocument(text, source), context, source);
}

function parseDocument(text: string, source: string): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    throw invalid(
      source,
      `not YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      err,
    );
  }
}

function loadKubeconfigDocument(doc: unknown, context: string | undefined, source: string): KubeConfig {
  validateDocument(doc, source, context);
  const kc = new KubeConfig();
  try {
    // JSON is YAML: client-node parses the validated document as it would the file.
    kc.loadFromString(JSON.stringify(selectedOnly(doc as KubeconfigDocument, context)));
    if (context !== undefined) kc.setCurrentContext(context);
  } catch (err) {
    throw invalid(source, err instanceof Error ? err.message : String(err), err);
  }
  return kc;
}

export function loadKubeconfigFile(file: string, context?: string): KubeConfig {
  return loadKubeconfigFiles([file], context);
}

/**
 * Several kubeconfig files as kubectl reads a `$KUBECONFIG` list (client-go's loading rules): the
 * first file to name a cluster, user or context, or to set current-context, wins, so one file per
 * cluster works. Relative file paths in each are relative to that file, as in kubectl.
 */
export function loadKubeconfigFiles(files: readonly string[], context?: string): KubeConfig {
  const docs = files.map((file) => {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw invalid(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err);
    }
    const doc = parseDocument(text, file);
    if (files.length > 1 && (doc === null || doc === undefined)) return {}; // kubectl skips empty files
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return doc;
    const duplicate = duplicateName(doc as KubeconfigDocument);
    if (duplicate !== undefined) throw invalid(file, duplicate);
    return withAbsolutePaths(doc as KubeconfigDocument, path.dirname(path.resolve(file)));
  });
  if (docs.length === 1) return loadKubeconfigDocument(docs[0], context, files[0] as string);
  const source = `$KUBECONFIG (${files.join(', ')})`;
  for (const [i, doc] of docs.entries()) {
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw invalid(
        files[i] as string,
        'not a kubeconfig (expected a YAML mapping with clusters, users and contexts)',
      );
    }
  }
  return loadKubeconfigDocument(mergeDocuments(docs as KubeconfigDocument[]), context, source);
}

type NamedEntry = { name?: unknown; [key: string]: unknown };
type KubeconfigDocument = Record<string, unknown> & {
  clusters?: unknown;
  users?: unknown;
  contexts?: unknown;
};

const LISTS = ['clusters', 'users', 'contexts'] as const;

function entries(list: unknown): NamedEntry[] {
  return Array.isArray(list) ? (list as NamedEntry[]).filter((e) => e !== null && typeof e === 'object') : [];
}

/** First file wins per name (kubectl's merge); current-context from the first file that sets one. */
export function mergeDocuments(docs: readonly KubeconfigDocument[]): KubeconfigDocument {
  const merged: KubeconfigDocument = { apiVersion: 'v1', kind: 'Config' };
  for (const list of LISTS) {
    const byName = new Map<string, NamedEntry>();
    for (const doc of docs) {
      for (const e of entries(doc[list])) {
        const name = String(e.name ?? '');
        if (!byName.has(name)) byName.set(name, e);
      }
    }
    merged[list] = [...byName.values()];
  }
  const current = docs.map((d) => d['current-context']).find((c) => typeof c === 'string' && c !== '');
  if (current !== undefined) merged['current-context'] = current;
  return merged;
}

/**
 * The one context in use, its cluster and its user. client-node reads every user's token-file as
 * it loads; kubectl reads only the one it uses, so another user's missing token file (another
 * file of a $KUBECONFIG list, often) must not fail this one.
 */
function selectedOnly(doc: KubeconfigDocument, context: string | undefined): KubeconfigDocument {
  const name = context ?? (doc['current-context'] as string);
  const ctx = entries(doc.contexts).find((c) => c.name === name) as
    | { context?: { cluster?: string; user?: string } }
    | undefined;
  return {
    ...doc,
    'current-context': name,
    contexts: ctx === undefined ? [] : [ctx],
    clusters: entries(doc.clusters).filter((c) => c.name === ctx?.context?.cluster),
    users: entries(doc.users).filter((u) => u.name === ctx?.context?.user),
  };
}

/** client-go refuses a file that names a cluster, user or context twice; merging would hide it. */
function duplicateName(doc: KubeconfigDocument): string | undefined {
  for (const list of LISTS) {
    const seen = new Set<string>();
    for (const e of entries(doc[list])) {
      const name = String(e.name ?? '');
      if (seen.has(name)) return `duplicate name "${name}" in ${list}`;
      seen.add(name);
    }
  }
  return undefined;
}

/**
 * The file references client-go resolves against the file's folder (ResolveLocalPaths):
 * certificate-authority, client-certificate, client-key, token-file, and an exec plugin's command
 * when it has a folder in it (`./bin/auth`; a bare `aws` is looked up on $PATH).
 */
function withAbsolutePaths(doc: KubeconfigDocument, dir: string): KubeconfigDocument {
  const absolute = (value: unknown, when = true): unknown =>
    typeof value === 'string' && value !== '' && when && !path.isAbsolute(value)
      ? path.join(dir, value)
      : value;
  const resolve = (entry: NamedEntry, inner: string, keys: readonly string[]): NamedEntry => {
    const body = entry[inner];
    if (body === null || typeof body !== 'object') return entry;
    const copy: Record<string, unknown> = { ...(body as Record<string, unknown>) };
    for (const key of keys) if (key in copy) copy[key] = absolute(copy[key]);
    const exec = copy.exec as Record<string, unknown> | null | undefined;
    if (exec !== null && typeof exec === 'object' && typeof exec.command === 'string') {
      copy.exec = { ...exec, command: absolute(exec.command, exec.command.includes('/')) };
    }
    return { ...entry, [inner]: copy };
  };
  return {
    ...doc,
    ...(Array.isArray(doc.clusters)
      ? { clusters: entries(doc.clusters).map((c) => resolve(c, 'cluster', ['certificate-authority'])) }
      : {}),
    ...(Array.isArray(doc.users)
      ? {
          users: entries(doc.users).map((u) =>
            resolve(u, 'user', ['client-certificate', 'client-key', 'token-file']),
          ),
        }
      : {}),
  };
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

/** A `$KUBECONFIG` list: its files that exist, merged as kubectl merges them; none existing is an error. */
export function loadKubeconfigList(list: readonly string[], context?: string): KubeConfig {
  const files = list.filter((f) => f !== '');
  const found = files.filter((f) => fs.existsSync(f));
  if (found.length === 0) throw invalid('$KUBECONFIG', `none of ${files.join(', ')} exists`);
  return loadKubeconfigFiles(found, context);
}

/** $KUBECONFIG (its existing files, merged as kubectl does), else ~/.kube/config, else in-cluster. */
export function loadDefault(context?: string): KubeConfig {
  const env = process.env.KUBECONFIG;
  if (env) return loadKubeconfigList(env.split(path.delimiter), context);
  const home = path.join(os.homedir(), '.kube', 'config');
  if (fs.existsSync(home)) return loadKubeconfigFile(home, context);
  if (process.env.KUBERNETES_SERVICE_HOST) return loadInCluster();
  throw invalid('kubeconfig', `no $KUBECONFIG, no ${home}, and not running in a cluster`);
}
