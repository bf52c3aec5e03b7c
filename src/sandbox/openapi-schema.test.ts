import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { StatusCause } from '../kube/validation/field-errors.js';
import { pruneAndDefault, validateWithSchema } from './openapi-schema.js';

interface CrdVersion {
  name: string;
  schema: { openAPIV3Schema: unknown };
}

function crdSchema(file: string, version: string): unknown {
  const crd = parse(readFileSync(new URL(`../../manifests/crds/${file}`, import.meta.url), 'utf8')) as {
    spec: { versions: CrdVersion[] };
  };
  const v = crd.spec.versions.find((x) => x.name === version);
  if (!v) throw new Error(`no version ${version} in ${file}`);
  return v.schema.openAPIV3Schema;
}

const linkSchema = crdSchema('links.multicluster.isthmus.dev.yaml', 'v1alpha1');
const splitV2 = crdSchema('trafficsplits.split.smi-spec.io.yaml', 'v1alpha2');
const splitV1 = crdSchema('trafficsplits.split.smi-spec.io.yaml', 'v1alpha1');

function link(spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'multicluster.isthmus.dev/v1alpha1',
    kind: 'Link',
    metadata: { name: 'west', namespace: 'isthmus-system' },
    spec: {
      targetClusterName: 'west',
      clusterCredentialsSecret: 'cluster-credentials-west',
      gatewayAddress: '127.0.0.2',
      ...spec,
    },
  };
}

/** What the apiserver does on create: prune, default, validate. */
// biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary stored JSON
function admit(schema: unknown, obj: unknown): { stored: any; causes: StatusCause[] } {
  const stored = pruneAndDefault(schema, obj);
  return { stored, causes: validateWithSchema(schema, stored) };
}

describe('Link CRD', () => {
  it('defaults gatewayPort, targetClusterDomain and mirrorHeadless', () => {
    const { stored, causes } = admit(linkSchema, link({}));
    expect(causes).toEqual([]);
    expect(stored.spec).toMatchObject({
      gatewayPort: 4143,
      targetClusterDomain: 'cluster.local',
      mirrorHeadless: false,
    });
    expect(stored.spec.probeSpec).toBeUndefined(); // a missing parent is never created
    expect(stored.metadata).toEqual({ name: 'west', namespace: 'isthmus-system' });
  });

  it('defaults inside a present probeSpec', () => {
    const { stored, causes } = admit(linkSchema, link({ probeSpec: { period: '5s' } }));
    expect(causes).toEqual([]);
    expect(stored.spec.probeSpec).toEqual({
      path: '/ready',
      port: 4191,
      period: '5s',
      timeout: '2s',
      failureThreshold: 3,
    });
  });

  it('prunes unknown fields but keeps status (preserve-unknown-fields)', () => {
    const obj = {
      ...link({ bogus: 1, probeSpec: { extra: true } }),
      extraTop: 'x',
      status: { anything: { goes: 1 } },
    };
    const { stored, causes } = admit(linkSchema, obj);
    expect(causes).toEqual([]);
    expect(stored.spec.bogus).toBeUndefined();
    expect(stored.spec.probeSpec.extra).toBeUndefined();
    expect(stored.extraTop).toBeUndefined();
    expect(stored.status).toEqual({ anything: { goes: 1 } });
    expect(stored.apiVersion).toBe('multicluster.isthmus.dev/v1alpha1');
    expect(obj.extraTop).toBe('x'); // pure
  });

  it('replaces a null non-nullable field by its default', () => {
    const { stored } = admit(linkSchema, link({ gatewayPort: null, gatewayIdentity: null }));
    expect(stored.spec.gatewayPort).toBe(4143);
    expect('gatewayIdentity' in stored.spec).toBe(false);
  });

  it.each<[string, Record<string, unknown>, StatusCause]>([
    [
      'missing targetClusterName',
      { targetClusterName: undefined },
      { reason: 'FieldValueRequired', field: 'spec.targetClusterName', message: 'Required value' },
    ],
    [
      'gatewayPort 70000',
      { gatewayPort: 70000 },
      {
        reason: 'FieldValueInvalid',
        field: 'spec.gatewayPort',
        message: 'Invalid value: 70000: spec.gatewayPort in body should be less than or equal to 65535',
      },
    ],
    [
      'gatewayPort 0',
      { gatewayPort: 0 },
      {
        reason: 'FieldValueInvalid',
        field: 'spec.gatewayPort',
        message: 'Invalid value: 0: spec.gatewayPort in body should be greater than or equal to 1',
      },
    ],
    [
      'gatewayPort as a string',
      { gatewayPort: '4143' },
      {
        reason: 'FieldValueTypeInvalid',
        field: 'spec.gatewayPort',
        message: 'Invalid value: "string": spec.gatewayPort in body must be of type integer: "string"',
      },
    ],
    [
      'gatewayPort 1.5',
      { gatewayPort: 1.5 },
      {
        reason: 'FieldValueTypeInvalid',
        field: 'spec.gatewayPort',
        message: 'Invalid value: "number": spec.gatewayPort in body must be of type integer: "number"',
      },
    ],
    [
      'an upper-case cluster name',
      { targetClusterName: 'West' },
      {
        reason: 'FieldValueInvalid',
        field: 'spec.targetClusterName',
        message: `Invalid value: "West": spec.targetClusterName in body should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'`,
      },
    ],
    [
      'a too-long cluster name',
      { targetClusterName: 'a'.repeat(64) },
      {
        reason: 'FieldValueTooLong',
        field: 'spec.targetClusterName',
        message: 'Too long: may not be more than 63 bytes',
      },
    ],
    [
      'an empty gatewayAddress',
      { gatewayAddress: '' },
      {
        reason: 'FieldValueInvalid',
        field: 'spec.gatewayAddress',
        message: 'Invalid value: "": spec.gatewayAddress in body should be at least 1 chars long',
      },
    ],
    [
      'a bad selector operator',
      { selector: { matchExpressions: [{ key: 'a', operator: 'Equals' }] } },
      {
        reason: 'FieldValueNotSupported',
        field: 'spec.selector.matchExpressions[0].operator',
        message: 'Unsupported value: "Equals": supported values: "In", "NotIn", "Exists", "DoesNotExist"',
      },
    ],
    [
      'a matchExpression without key',
      { selector: { matchExpressions: [{ operator: 'Exists' }] } },
      {
        reason: 'FieldValueRequired',
        field: 'spec.selector.matchExpressions[0].key',
        message: 'Required value',
      },
    ],
    [
      'a non-string matchLabels value',
      { selector: { matchLabels: { a: 1 } } },
      {
        reason: 'FieldValueTypeInvalid',
        field: 'spec.selector.matchLabels.a',
        message:
          'Invalid value: "integer": spec.selector.matchLabels.a in body must be of type string: "integer"',
      },
    ],
    [
      'a bad probe period',
      { probeSpec: { period: 'soon' } },
      {
        reason: 'FieldValueInvalid',
        field: 'spec.probeSpec.period',
        message: `Invalid value: "soon": spec.probeSpec.period in body should match '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$'`,
      },
    ],
    [
      'failureThreshold 0',
      { probeSpec: { failureThreshold: 0 } },
      {
        reason: 'FieldValueInvalid',
        field: 'spec.probeSpec.failureThreshold',
        message:
          'Invalid value: 0: spec.probeSpec.failureThreshold in body should be greater than or equal to 1',
      },
    ],
    [
      'mirrorHeadless as a string',
      { mirrorHeadless: 'yes' },
      {
        reason: 'FieldValueTypeInvalid',
        field: 'spec.mirrorHeadless',
        message: 'Invalid value: "string": spec.mirrorHeadless in body must be of type boolean: "string"',
      },
    ],
  ])('refuses %s', (_what, spec, cause) => {
    const obj = link(spec);
    for (const [k, v] of Object.entries(spec))
      if (v === undefined) delete (obj.spec as Record<string, unknown>)[k];
    expect(admit(linkSchema, obj).causes).toContainEqual(cause);
  });

  it('requires spec', () => {
    expect(validateWithSchema(linkSchema, { apiVersion: 'x', kind: 'Link', metadata: {} })).toEqual([
      { reason: 'FieldValueRequired', field: 'spec', message: 'Required value' },
    ]);
  });
});

describe('TrafficSplit CRD', () => {
  const split = (backends: unknown[]) => ({
    apiVersion: 'split.smi-spec.io/v1alpha2',
    kind: 'TrafficSplit',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: { service: 'podinfo', backends },
  });

  it.each<[string, unknown, unknown[], boolean]>([
    [
      'v1alpha2 integer weights',
      splitV2,
      [
        { service: 'podinfo', weight: 100 },
        { service: 'podinfo-west', weight: 0 },
      ],
      true,
    ],
    ['v1alpha2 a quantity weight', splitV2, [{ service: 'podinfo', weight: '500m' }], false],
    ['v1alpha2 a negative weight', splitV2, [{ service: 'podinfo', weight: -1 }], false],
    ['v1alpha2 a backend without weight', splitV2, [{ service: 'podinfo' }], false],
    ['v1alpha1 weight "500m"', splitV1, [{ service: 'podinfo', weight: '500m' }], true],
    ['v1alpha1 weight 1', splitV1, [{ service: 'podinfo', weight: 1 }], true],
    ['v1alpha1 weight true', splitV1, [{ service: 'podinfo', weight: true }], false],
    ['v1alpha1 an empty backend service', splitV1, [{ service: '', weight: 1 }], false],
  ])('%s → valid %s', (_what, schema, backends, valid) => {
    expect(admit(schema, split(backends)).causes.length === 0).toBe(valid);
  });

  it('words a missing weight like kube', () => {
    expect(admit(splitV2, split([{ service: 'a' }])).causes).toEqual([
      { reason: 'FieldValueRequired', field: 'spec.backends[0].weight', message: 'Required value' },
    ]);
  });
});

describe('schema keywords', () => {
  it.each<[string, Record<string, unknown>, unknown, boolean]>([
    ['exclusiveMaximum', { type: 'integer', maximum: 10, exclusiveMaximum: true }, 10, false],
    ['exclusiveMinimum', { type: 'number', minimum: 0, exclusiveMinimum: true }, 0.5, true],
    ['maxItems', { type: 'array', maxItems: 1 }, [1, 2], false],
    ['minItems', { type: 'array', minItems: 1 }, [], false],
    ['uniqueItems', { type: 'array', uniqueItems: true }, [{ a: 1 }, { a: 1 }], false],
    ['nullable', { type: 'string', nullable: true }, null, true],
    ['not nullable', { type: 'string' }, null, false],
    ['int-or-string string', { 'x-kubernetes-int-or-string': true }, '50%', true],
    ['int-or-string object', { 'x-kubernetes-int-or-string': true }, {}, false],
    ['anyOf', { anyOf: [{ type: 'integer' }, { type: 'string' }] }, 3, true],
    ['anyOf fails', { anyOf: [{ type: 'integer' }, { type: 'string' }] }, true, false],
    ['number accepts integers', { type: 'number' }, 3, true],
    ['int32 range', { type: 'integer', format: 'int32' }, 2 ** 31, false],
    ['pattern with unicode', { type: 'string', pattern: '^\\p{L}+$' }, 'héllo', true],
    [
      'additionalProperties schema',
      { type: 'object', additionalProperties: { type: 'integer' } },
      { a: 'x' },
      false,
    ],
    [
      'embedded resource needs kind',
      {
        type: 'object',
        'x-kubernetes-embedded-resource': true,
        'x-kubernetes-preserve-unknown-fields': true,
      },
      { apiVersion: 'v1' },
      false,
    ],
  ])('%s', (_what, schema, value, valid) => {
    const causes = validateWithSchema({ type: 'object', properties: { x: schema } }, { x: value });
    expect(causes.length === 0).toBe(valid);
  });

  it('keeps apiVersion/kind/metadata of embedded resources when pruning', () => {
    const schema = {
      type: 'object',
      properties: {
        tmpl: {
          type: 'object',
          'x-kubernetes-embedded-resource': true,
          properties: { spec: { type: 'object' } },
        },
      },
    };
    const obj = { tmpl: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: {}, junk: 1 } };
    expect(pruneAndDefault(schema, obj)).toEqual({
      tmpl: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: {} },
    });
  });

  it('defaults inside array items and additionalProperties', () => {
    const schema = {
      type: 'object',
      properties: {
        list: {
          type: 'array',
          items: { type: 'object', properties: { w: { type: 'integer', default: 1 } } },
        },
        map: {
          type: 'object',
          additionalProperties: { type: 'object', properties: { on: { type: 'boolean', default: true } } },
        },
      },
    };
    expect(pruneAndDefault(schema, { list: [{}, { w: 5 }], map: { a: {} } })).toEqual({
      list: [{ w: 1 }, { w: 5 }],
      map: { a: { on: true } },
    });
  });

  it('defaults are applied recursively into a defaulted object', () => {
    const schema = {
      type: 'object',
      properties: { o: { type: 'object', default: {}, properties: { n: { type: 'integer', default: 7 } } } },
    };
    expect(pruneAndDefault(schema, {})).toEqual({ o: { n: 7 } });
  });
});
