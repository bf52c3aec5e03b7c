/**
 * Server-side printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), which kubectl get
 * asks for: a meta.k8s.io/v1 Table with the kind's columns (pkg/printers/internalversion for the
 * built-ins Isthmus uses, additionalPrinterColumns for CRs, NAME/AGE otherwise) and each row's
 * object as PartialObjectMetadata (includeObject=Metadata, the default) or the full object.
 */
import type { ResourceType } from './resource-types.js';
import type { KObj } from './store.js';

interface Column {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  cell: (o: KObj) => unknown;
}

type Obj = Record<string, unknown>;
const get = (o: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>((cur, k) => (cur && typeof cur === 'object' ? (cur as Obj)[k] : undefined), o);
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

/** duration.HumanDuration, as kubectl shows AGE. */
export function humanAge(ts: string | undefined, now = Date.now()): string {
  if (!ts) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

const NAME: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name };
const AGE: Column = { name: 'Age', type: 'string', cell: (o) => humanAge(o.metadata.creationTimestamp) };

function servicePorts(o: KObj): string {
  const ports = list(get(o, 'spec.ports')).map(
    (p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`,
  );
  return ports.length ? ports.join(',') : '<none>';
}

function externalIp(o: KObj): string {
  const ingress = list(get(o, 'status.loadBalancer.ingress')).map((i) => String(i.ip ?? i.hostname ?? ''));
  if (get(o, 'spec.type') === 'LoadBalancer') return ingress.length ? ingress.join(',') : '<pending>';
  return '<none>';
}

/**
 * printPod's STATUS: a waiting or terminated container's reason wins over the phase, and a pod being
 * deleted that has not finished reads Terminating.
 */
function podStatusReason(o: KObj): unknown {
  const phase = get(o, 'status.phase');
  if (o.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') return 'Terminating';
  for (const c of list(get(o, 'status.containerStatuses'))) {
    const reason = get(c, 'state.waiting.reason') ?? get(c, 'state.terminated.reason');
    if (reason) return reason;
  }
  return phase;
}

/** printPod's RESTARTS: the sum, and how long ago the last one ended (`1 (12s ago)`). */
function podRestarts(o: KObj): string {
  const statuses = list(get(o, 'status.containerStatuses'));
  const n = statuses.reduce((sum, c) => sum + Number(c.restartCount ?? 0), 0);
  const last = statuses
    .map((c) => get(c, 'lastState.terminated.finishedAt'))
    .filter((t): t is string => typeof t === 'string')
    .sort()
    .at(-1);
  return n > 0 && last ? `${n} (${humanAge(last)} ago)` : String(n);
}

/** A wide column listing one field of every container in a workload's pod template. */
function templateContainers(name: string, field: 'name' | 'image'): Column {
  const cell = (o: KObj) =>
    list(get(o, 'spec.template.spec.containers'))
      .map((c) => c[field])
      .join(',');
  return { name, type: 'string', priority: 1, cell };
}

/** One requirement as labels.Requirement.String() writes it: `k=v`, `k in (a,b)`, `k`, `!k`. */
function requirementText(key: string, operator: unknown, values: unknown[]): string {
  const set = () => `(${values.map(String).sort().join(',')})`;
  switch (operator) {
    case 'In':
      return `${key} in ${set()}`;
    case 'NotIn':
      return `${key} notin ${set()}`;
    case 'Exists':
      return key;
    case 'DoesNotExist':
      return `!${key}`;
    default:
      return `${key}=${values[0]}`;
  }
}

/** metav1.FormatLabelSelector: requirements sorted by key, `<none>` for the empty selector. */
function formatLabelSelector(selector: unknown): string {
  const labels = Object.entries((get(selector, 'matchLabels') ?? {}) as Obj).map(
    ([k, v]) => [k, requirementText(k, '=', [v])] as const,
  );
  const exprs = list(get(selector, 'matchExpressions')).map(
    (e) => [String(e.key), requirementText(String(e.key), e.operator, list(e.values))] as const,
  );
  const parts = [...labels, ...exprs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return parts.map(([, text]) => text).join(',') || '<none>';
}

const BUILTIN_COLUMNS: Record<string, Column[]> = {
  'v1/Service': [
    NAME,
    { name: 'Type', type: 'string', cell: (o) => get(o, 'spec.type') },
    { name: 'Cluster-IP', type: 'string', cell: (o) => get(o, 'spec.clusterIP') ?? '<none>' },
    { name: 'External-IP', type: 'string', cell: externalIp },
    { name: 'Port(s)', type: 'string', cell: servicePorts },
    AGE,
  ],
  'v1/Namespace': [NAME, { name: 'Status', type: 'string', cell: (o) => get(o, 'status.phase') }, AGE],
  'v1/Pod': [
    NAME,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => {
        const cs = list(get(o, 'status.containerStatuses'));
        return `${cs.filter((c) => c.ready).length}/${list(get(o, 'spec.containers')).length}`;
      },
    },
    { name: 'Status', type: 'string', cell: podStatusReason },
    { name: 'Restarts', type: 'string', cell: podRestarts },
    AGE,
    { name: 'IP', type: 'string', priority: 1, cell: (o) => get(o, 'status.podIP') ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, cell: (o) => get(o, 'spec.nodeName') ?? '<none>' },
  ],
  // printEvent: LAST SEEN, TYPE, REASON, OBJECT (kind/name, kind lower-cased), MESSAGE.
  'v1/Event': [
    {
      name: 'Last Seen',
      type: 'string',
      cell: (o) =>
        humanAge(
          (get(o, 'lastTimestamp') ?? get(o, 'eventTime') ?? o.metadata.creationTimestamp) as
            | string
            | undefined,
        ),
    },
    { name: 'Type', type: 'string', cell: (o) => get(o, 'type') },
    { name: 'Reason', type: 'string', cell: (o) => get(o, 'reason') },
    {
      name: 'Object',
      type: 'string',
      cell: (o) =>
        `${String(get(o, 'involvedObject.kind') ?? '').toLowerCase()}/${get(o, 'involvedObject.name') ?? ''}`,
    },
    { name: 'Message', type: 'string', cell: (o) => get(o, 'message') },
  ],
  'apps/v1/Deployment': [
    NAME,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => `${get(o, 'status.readyReplicas') ?? 0}/${get(o, 'spec.replicas') ?? 1}`,
    },
    { name: 'Up-to-date', type: 'integer', cell: (o) => get(o, 'status.updatedReplicas') ?? 0 },
    { name: 'Available', type: 'integer', cell: (o) => get(o, 'status.availableReplicas') ?? 0 },
    AGE,
    templateContainers('Containers', 'name'),
    templateContainers('Images', 'image'),
  ],
  // pkg/printers/internalversion: ParamKind and ParamRef as `<apiVersion/kind>`, `<unset>` without.
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': [
    NAME,
    { name: 'Validations', type: 'integer', cell: (o) => list(get(o, 'spec.validations')).length },
    {
      name: 'ParamKind',
      type: 'string',
      cell: (o) => {
        const p = get(o, 'spec.paramKind') as { apiVersion?: string; kind?: string } | undefined;
        return p ? `${p.apiVersion ?? ''}/${p.kind ?? ''}` : '<unset>';
      },
    },
    AGE,
  ],
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': [
    NAME,
    { name: 'PolicyName', type: 'string', cell: (o) => get(o, 'spec.policyName') ?? '' },
    {
      name: 'ParamRef',
      type: 'string',
      cell: (o) => {
        const p = get(o, 'spec.paramRef') as { namespace?: string; name?: string } | undefined;
        if (!p) return '<unset>';
        return p.namespace ? `${p.namespace}/${p.name ?? '*'}` : `*/${p.name ?? '*'}`;
      },
    },
    AGE,
  ],
  'networking.k8s.io/v1/NetworkPolicy': [
    NAME,
    { name: 'Pod-Selector', type: 'string', cell: (o) => formatLabelSelector(get(o, 'spec.podSelector')) },
    AGE,
  ],
  'discovery.k8s.io/v1/EndpointSlice': [
    NAME,
    { name: 'AddressType', type: 'string', cell: (o) => get(o, 'addressType') },
    {
      name: 'Ports',
      type: 'string',
      cell: (o) =>
        list(get(o, 'ports'))
          .map((p) => String(p.port ?? ''))
          .join(',') || '<unset>',
    },
    {
      name: 'Endpoints',
      type: 'string',
      cell: (o) =>
        list(get(o, 'endpoints'))
          .flatMap((e) => list(e.addresses) as unknown as string[])
          .join(',') || '<unset>',
    },
    AGE,
  ],
};

/** A small JSONPath subset for printer columns: `.a.b`, `.a[0].b`, `.a[?(@.k=="v")].b`. */
export function evalJsonPath(obj: unknown, path: string): unknown {
  const tokens = path.replace(/^\./, '').match(/\[\?\(@\.[^)]*\)\]|\[\d+\]|[^.[\]]+/g) ?? [];
  let cur: unknown[] = [obj];
  for (const t of tokens) {
    const next: unknown[] = [];
    for (const c of cur) {
      if (c === null || typeof c !== 'object') continue;
      const filter = /^\[\?\(@\.([\w.]+)\s*==\s*["']?([^"')]*)["']?\)\]$/.exec(t);
      const idx = /^\[(\d+)\]$/.exec(t);
      if (filter) next.push(...list(c).filter((e) => String(get(e, filter[1]!)) === filter[2]));
      else if (idx) next.push(list(c)[Number(idx[1])]);
      else next.push((c as Obj)[t]);
    }
    cur = next.filter((x) => x !== undefined);
  }
  return cur.length === 0 ? undefined : cur.length === 1 ? cur[0] : cur;
}

function columnsFor(rt: ResourceType, version: string, gvk: string): Column[] {
  const crdCols = rt.crd?.versions.find((v) => v.name === version)?.printerColumns;
  if (crdCols) {
    return [
      NAME,
      ...crdCols.map((c) => {
        const col: Column = {
          name: c.name,
          type: c.type,
          cell: (o: KObj) => evalJsonPath(o, c.jsonPath) ?? null,
        };
        if (c.format) col.format = c.format;
        if (c.description) col.description = c.description;
        if (c.priority) col.priority = c.priority;
        return col;
      }),
      ...(crdCols.some((c) => c.jsonPath === '.metadata.creationTimestamp') ? [] : [AGE]),
    ];
  }
  return BUILTIN_COLUMNS[gvk] ?? [NAME, AGE];
}

export function toTable(
  rt: ResourceType,
  version: string,
  gvk: string,
  objects: KObj[],
  includeObject: string | null,
  listMeta: Record<string, unknown>,
  withColumns = true,
): Record<string, unknown> {
  const cols = columnsFor(rt, version, gvk);
  const rows = objects.map((o) => {
    const row: Obj = { cells: cols.map((c) => c.cell(o) ?? null) };
    if (includeObject === 'Object') row.object = o;
    else if (includeObject !== 'None') {
      row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
    }
    return row;
  });
  const table: Obj = { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: listMeta };
  if (withColumns) {
    table.columnDefinitions = cols.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.description ?? '',
      priority: c.priority ?? 0,
    }));
  }
  table.rows = rows;
  return table;
}
