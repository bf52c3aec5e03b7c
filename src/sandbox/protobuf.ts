/**
 * Request bodies in `application/vnd.kubernetes.protobuf`, which kubectl's typed clients send
 * (`kubectl create namespace|configmap|secret|serviceaccount|service|role|rolebinding|
 * clusterrole|clusterrolebinding|deployment|poddisruptionbudget|token`, `kubectl auth can-i`).
 * The envelope is the `k8s\0` magic plus a runtime.Unknown (apimachinery runtime/generated.proto);
 * the object is decoded with the field numbers of k8s.io/api generated.proto for the kinds below.
 * Any field this table does not know is refused (415) when it carries a value, never silently
 * dropped: gogo-protobuf writes every non-pointer field, so a zero one is only its Go zero value.
 * A pointer field (`ptr`) keeps an explicit zero (`replicas: 0`), as its JSON would.
 */
import { ApiError } from './api-status.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Field = (
  | { name: string; t: 'string' | 'bool' | 'int' | 'bytes' }
  | { name: string; t: 'msg'; schema: Schema }
  | { name: string; t: 'rstring' }
  | { name: string; t: 'rmsg'; schema: Schema }
  | { name: string; t: 'map'; values: 'string' | 'bytes' }
  | { name: string; t: 'intstr' }
  | { name: string; t: 'skip' }
  // A message accepted only when every field in it is zero, and then left out: a status, which
  // create resets (PrepareForCreate) and kubectl sends empty. A set value is refused.
  | { name: string; t: 'empty' }
) & { ptr?: true };
type Schema = Record<number, Field>;

const s = (name: string): Field => ({ name, t: 'string' });
const bool = (name: string): Field => ({ name, t: 'bool' });
const EMPTY_STATUS: Field = { name: 'status', t: 'empty' };
const OWNER_REF: Schema = {
  1: s('kind'),
  3: s('name'),
  4: s('uid'),
  5: s('apiVersion'),
  6: { name: 'controller', t: 'bool' },
  7: { name: 'blockOwnerDeletion', t: 'bool' },
};
const OBJECT_META: Schema = {
  1: s('name'),
  2: s('generateName'),
  3: s('namespace'),
  5: s('uid'),
  6: s('resourceVersion'),
  7: { name: 'generation', t: 'int' },
  8: { name: 'creationTimestamp', t: 'skip' },
  11: { name: 'labels', t: 'map', values: 'string' },
  12: { name: 'annotations', t: 'map', values: 'string' },
  13: { name: 'ownerReferences', t: 'rmsg', schema: OWNER_REF },
  14: { name: 'finalizers', t: 'rstring' },
  17: { name: 'managedFields', t: 'skip' },
};
const META: Field = { name: 'metadata', t: 'msg', schema: OBJECT_META };
const OBJECT_REF: Schema = {
  1: s('kind'),
  2: s('namespace'),
  3: s('name'),
  4: s('uid'),
  5: s('apiVersion'),
  6: s('resourceVersion'),
  7: s('fieldPath'),
};
const POLICY_RULE: Schema = {
  1: { name: 'verbs', t: 'rstring' },
  2: { name: 'apiGroups', t: 'rstring' },
  3: { name: 'resources', t: 'rstring' },
  4: { name: 'resourceNames', t: 'rstring' },
  5: { name: 'nonResourceURLs', t: 'rstring' },
};
const BINDING: Schema = {
  1: META,
  2: {
    name: 'subjects',
    t: 'rmsg',
    schema: { 1: s('kind'), 2: s('apiGroup'), 3: s('name'), 4: s('namespace') },
  },
  3: { name: 'roleRef', t: 'msg', schema: { 1: s('apiGroup'), 2: s('kind'), 3: s('name') } },
};
const SERVICE_PORT: Schema = {
  1: s('name'),
  2: s('protocol'),
  3: { name: 'port', t: 'int' },
  4: { name: 'targetPort', t: 'intstr' },
  5: { name: 'nodePort', t: 'int' },
  6: s('appProtocol'),
};

// k8s.io/api/authorization/v1: what `kubectl auth can-i` sends. Field and label selectors (8, 9)
// are not decoded, so a question carrying them is refused rather than answered too broadly.
const ACCESS_ATTRIBUTES: Schema = {
  1: {
    name: 'resourceAttributes',
    t: 'msg',
    schema: {
      1: s('namespace'),
      2: s('verb'),
      3: s('group'),
      4: s('version'),
      5: s('resource'),
      6: s('subresource'),
      7: s('name'),
    },
  },
  2: { name: 'nonResourceAttributes', t: 'msg', schema: { 1: s('path'), 2: s('verb') } },
};
const ACCESS_REVIEW_STATUS = EMPTY_STATUS;

// k8s.io/apimachinery meta/v1 LabelSelector.
const LABEL_SELECTOR: Schema = {
  1: { name: 'matchLabels', t: 'map', values: 'string' },
  2: {
    name: 'matchExpressions',
    t: 'rmsg',
    schema: { 1: s('key'), 2: s('operator'), 3: { name: 'values', t: 'rstring' } },
  },
};

// k8s.io/api/core/v1 PodTemplateSpec, as far as `kubectl create deployment` fills it in: every
// non-pointer field of PodSpec and Container is named (kubectl writes them all, zero or not), and
// the pointer fields and lists it never sets (probes, volumes, securityContext...) are refused.
const CONTAINER: Schema = {
  1: s('name'),
  2: s('image'),
  3: { name: 'command', t: 'rstring' },
  4: { name: 'args', t: 'rstring' },
  5: s('workingDir'),
  6: {
    name: 'ports',
    t: 'rmsg',
    schema: {
      1: s('name'),
      2: { name: 'hostPort', t: 'int' },
      3: { name: 'containerPort', t: 'int' },
      4: s('protocol'),
      5: s('hostIP'),
    },
  },
  7: { name: 'env', t: 'rmsg', schema: { 1: s('name'), 2: s('value') } },
  // Limits and requests are Quantity maps, not decoded: refused when set.
  8: { name: 'resources', t: 'msg', schema: {} },
  13: s('terminationMessagePath'),
  14: s('imagePullPolicy'),
  16: bool('stdin'),
  17: bool('stdinOnce'),
  18: bool('tty'),
  20: s('terminationMessagePolicy'),
};
const POD_SPEC: Schema = {
  2: { name: 'containers', t: 'rmsg', schema: CONTAINER },
  3: s('restartPolicy'),
  6: s('dnsPolicy'),
  7: { name: 'nodeSelector', t: 'map', values: 'string' },
  8: s('serviceAccountName'),
  9: s('serviceAccount'),
  10: s('nodeName'),
  11: bool('hostNetwork'),
  12: bool('hostPID'),
  13: bool('hostIPC'),
  16: s('hostname'),
  17: s('subdomain'),
  19: s('schedulerName'),
  24: s('priorityClassName'),
};
const POD_TEMPLATE: Schema = { 1: META, 2: { name: 'spec', t: 'msg', schema: POD_SPEC } };
const INT_OR_STRING = (name: string): Field => ({ name, t: 'intstr', ptr: true });

const KINDS: Record<string, Schema> = {
  'v1/Namespace': {
    1: META,
    2: { name: 'spec', t: 'msg', schema: { 1: { name: 'finalizers', t: 'rstring' } } },
    3: EMPTY_STATUS,
  },
  'v1/ConfigMap': {
    1: META,
    2: { name: 'data', t: 'map', values: 'string' },
    3: { name: 'binaryData', t: 'map', values: 'bytes' },
    4: { name: 'immutable', t: 'bool', ptr: true },
  },
  'v1/Secret': {
    1: META,
    2: { name: 'data', t: 'map', values: 'bytes' },
    3: s('type'),
    4: { name: 'stringData', t: 'map', values: 'string' },
    5: { name: 'immutable', t: 'bool', ptr: true },
  },
  'v1/ServiceAccount': {
    1: META,
    2: { name: 'secrets', t: 'rmsg', schema: OBJECT_REF },
    3: { name: 'imagePullSecrets', t: 'rmsg', schema: { 1: s('name') } },
    4: { name: 'automountServiceAccountToken', t: 'bool', ptr: true },
  },
  'v1/Service': {
    1: META,
    2: {
      name: 'spec',
      t: 'msg',
      schema: {
        1: { name: 'ports', t: 'rmsg', schema: SERVICE_PORT },
        2: { name: 'selector', t: 'map', values: 'string' },
        3: s('clusterIP'),
        4: s('type'),
        10: s('externalName'),
      },
    },
    3: EMPTY_STATUS,
  },
  'rbac.authorization.k8s.io/v1/Role': { 1: META, 2: { name: 'rules', t: 'rmsg', schema: POLICY_RULE } },
  'rbac.authorization.k8s.io/v1/ClusterRole': {
    1: META,
    2: { name: 'rules', t: 'rmsg', schema: POLICY_RULE },
    3: {
      name: 'aggregationRule',
      t: 'msg',
      schema: { 1: { name: 'clusterRoleSelectors', t: 'rmsg', schema: LABEL_SELECTOR } },
    },
  },
  // k8s.io/api/apps/v1: what `kubectl create deployment` sends.
  'apps/v1/Deployment': {
    1: META,
    2: {
      name: 'spec',
      t: 'msg',
      schema: {
        1: { name: 'replicas', t: 'int', ptr: true },
        2: { name: 'selector', t: 'msg', schema: LABEL_SELECTOR },
        3: { name: 'template', t: 'msg', schema: POD_TEMPLATE },
        4: {
          name: 'strategy',
          t: 'msg',
          schema: {
            1: s('type'),
            2: {
              name: 'rollingUpdate',
              t: 'msg',
              schema: { 1: INT_OR_STRING('maxUnavailable'), 2: INT_OR_STRING('maxSurge') },
            },
          },
        },
        5: { name: 'minReadySeconds', t: 'int' },
        6: { name: 'revisionHistoryLimit', t: 'int', ptr: true },
        7: bool('paused'),
        9: { name: 'progressDeadlineSeconds', t: 'int', ptr: true },
      },
    },
    3: EMPTY_STATUS,
  },
  // k8s.io/api/policy/v1: what `kubectl create poddisruptionbudget` sends.
  'policy/v1/PodDisruptionBudget': {
    1: META,
    2: {
      name: 'spec',
      t: 'msg',
      schema: {
        1: INT_OR_STRING('minAvailable'),
        2: { name: 'selector', t: 'msg', schema: LABEL_SELECTOR },
        3: INT_OR_STRING('maxUnavailable'),
        4: { name: 'unhealthyPodEvictionPolicy', t: 'string', ptr: true },
      },
    },
    3: EMPTY_STATUS,
  },
  'authorization.k8s.io/v1/SelfSubjectAccessReview': {
    1: META,
    2: { name: 'spec', t: 'msg', schema: ACCESS_ATTRIBUTES },
    3: ACCESS_REVIEW_STATUS,
  },
  'authorization.k8s.io/v1/SubjectAccessReview': {
    1: META,
    2: {
      name: 'spec',
      t: 'msg',
      schema: { ...ACCESS_ATTRIBUTES, 3: s('user'), 4: { name: 'groups', t: 'rstring' }, 6: s('uid') },
    },
    3: ACCESS_REVIEW_STATUS,
  },
  // k8s.io/api/authentication/v1: what `kubectl create token` sends.
  'authentication.k8s.io/v1/TokenRequest': {
    1: META,
    2: {
      name: 'spec',
      t: 'msg',
      schema: {
        1: { name: 'audiences', t: 'rstring' },
        3: {
          name: 'boundObjectRef',
          t: 'msg',
          schema: { 1: s('kind'), 2: s('apiVersion'), 3: s('name'), 4: s('uid') },
        },
        4: { name: 'expirationSeconds', t: 'int', ptr: true },
      },
    },
    3: EMPTY_STATUS,
  },
  'rbac.authorization.k8s.io/v1/RoleBinding': BINDING,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': BINDING,
};

function unsupported(what: string): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the sandbox cannot decode ${what} from protobuf; send application/json`,
    {},
  );
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.buf.length) throw new ApiError(400, 'BadRequest', 'truncated protobuf body', {});
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
  }
  bytes(): Buffer {
    const n = this.varint();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.bytes();
    else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else throw new ApiError(400, 'BadRequest', 'unsupported protobuf wire type', {});
  }
}

function listField(out: Record<string, unknown>, name: string): unknown[] {
  if (!Array.isArray(out[name])) out[name] = [];
  return out[name] as unknown[];
}

function mapField(out: Record<string, unknown>, name: string): Record<string, unknown> {
  if (!out[name] || typeof out[name] !== 'object') out[name] = {};
  return out[name] as Record<string, unknown>;
}

function decodeMessage(buf: Buffer, schema: Schema, where: string): Record<string, unknown> {
  const r = new Reader(buf);
  const out: Record<string, unknown> = {};
  while (!r.done()) {
    const tag = r.varint();
    const num = Math.floor(tag / 8);
    const wire = tag & 7;
    const f = schema[num];
    if (!f) {
      // gogo-protobuf writes every non-pointer field, zero or not; only a set value would be lost.
      const start = r.pos;
      r.skip(wire);
      const zero = wire === 0 ? r.buf[start] === 0 : wire === 2 ? r.buf[start] === 0 : false;
      if (!zero) throw unsupported(`field ${num} of ${where}`);
      continue;
    }
    switch (f.t) {
      case 'skip':
        r.skip(wire);
        break;
      case 'empty':
        decodeMessage(r.bytes(), {}, `${where}.${f.name}`);
        break;
      case 'string':
        out[f.name] = r.bytes().toString('utf8');
        break;
      case 'bytes':
        out[f.name] = r.bytes().toString('base64');
        break;
      case 'bool':
        out[f.name] = r.varint() !== 0;
        break;
      case 'int':
        out[f.name] = r.varint();
        break;
      case 'msg':
        out[f.name] = decodeMessage(r.bytes(), f.schema, `${where}.${f.name}`);
        break;
      case 'rstring':
        listField(out, f.name).push(r.bytes().toString('utf8'));
        break;
      case 'rmsg':
        listField(out, f.name).push(decodeMessage(r.bytes(), f.schema, `${where}.${f.name}`));
        break;
      case 'intstr': {
        const v = decodeMessage(
          r.bytes(),
          { 1: { name: 'type', t: 'int' }, 2: { name: 'intVal', t: 'int' }, 3: s('strVal') },
          where,
        );
        out[f.name] = v.type === 1 ? v.strVal : (v.intVal ?? 0);
        break;
      }
      case 'map': {
        const entry = decodeMessage(
          r.bytes(),
          { 1: s('key'), 2: { name: 'value', t: f.values } },
          `${where}.${f.name}`,
        );
        mapField(out, f.name)[String(entry.key ?? '')] = entry.value ?? '';
        break;
      }
    }
  }
  // omitempty: zero scalars decode to absent fields, as the JSON of the same object would have them;
  // a pointer field on the wire was set, so its zero stays.
  const pointers = new Set(
    Object.values(schema)
      .filter((f) => f.ptr)
      .map((f) => f.name),
  );
  for (const [k, v] of Object.entries(out)) {
    if ((v === '' || v === 0 || v === false) && !pointers.has(k)) delete out[k];
  }
  return out;
}

export function isProtobuf(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === PROTOBUF_CONTENT_TYPE;
}

/** Decodes a `k8s\0`-enveloped body into the JSON object it stands for. */
export function decodeProtobufObject(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) {
    throw new ApiError(400, 'BadRequest', 'provided protobuf body is missing the k8s\\x00 prefix', {});
  }
  const unknown = decodeMessage(
    body.subarray(4),
    {
      1: { name: 'typeMeta', t: 'msg', schema: { 1: s('apiVersion'), 2: s('kind') } },
      2: { name: 'raw', t: 'bytes' },
      3: s('contentEncoding'),
      4: s('contentType'),
    },
    'runtime.Unknown',
  );
  const tm = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const gvk = `${tm.apiVersion ?? ''}/${tm.kind ?? ''}`;
  const schema = KINDS[gvk];
  if (!schema) throw unsupported(gvk);
  const obj = decodeMessage(Buffer.from(String(unknown.raw ?? ''), 'base64'), schema, tm.kind ?? 'object');
  return { apiVersion: tm.apiVersion, kind: tm.kind, ...obj };
}
