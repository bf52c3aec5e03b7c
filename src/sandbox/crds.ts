/**
 * CustomResourceDefinition → served resource (apiextensions-apiserver): names, scope, served
 * versions with their schemas, status subresource and printer columns; plus the CRD's own
 * validation (the subset of apiextensions/validation that a hand-written CRD can trip over).
 */
import { invalid, required, type StatusCause } from '../kube/validation/field-errors.js';
import type { CrdVersionInfo, PrinterColumn, ResourceType } from './resource-types.js';
import { ALL_VERBS } from './resource-types.js';
import type { KObj } from './store.js';

type Obj = Record<string, unknown>;

const asObj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const asArr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(asObj) : []);
const asStrs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);

/** The finalizer apiextensions-apiserver puts on every CRD so its objects are removed first. */
export const CRD_CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

export function crdToResourceType(crd: KObj): ResourceType {
  const spec = asObj(crd.spec);
  const names = asObj(spec.names);
  const versions: CrdVersionInfo[] = asArr(spec.versions).map((v) => ({
    name: String(v.name),
    served: v.served === true,
    storage: v.storage === true,
    schema: asObj(v.schema).openAPIV3Schema,
    status: asObj(v.subresources).status !== undefined,
    printerColumns: asArr(v.additionalPrinterColumns) as unknown as PrinterColumn[],
  }));
  const storage = versions.find((v) => v.storage) ?? versions[0];
  const kind = String(names.kind);
  return {
    group: String(spec.group),
    versions: versions.filter((v) => v.served).map((v) => v.name),
    storageVersion: storage?.name ?? 'v1',
    plural: String(names.plural),
    singular: typeof names.singular === 'string' && names.singular ? names.singular : kind.toLowerCase(),
    kind,
    namespaced: spec.scope !== 'Cluster',
    shortNames: asStrs(names.shortNames),
    categories: asStrs(names.categories),
    verbs: ALL_VERBS,
    hasStatus: storage?.status ?? false,
    tracksGeneration: true,
    // customResourceStrategy: a CR update must carry metadata.resourceVersion.
    allowUnconditionalUpdate: false,
    allowCreateOnUpdate: false,
    returnDeletedObject: true,
    extraFields: [],
    crd: { name: crd.metadata.name!, versions },
  };
}

/** The status the CRD controllers write once the names are accepted and the API is served. */
export function establishedStatus(crd: KObj, now: string): Obj {
  const spec = asObj(crd.spec);
  const storage = asArr(spec.versions).find((v) => v.storage === true);
  const cond = (type: string, reason: string, message: string) => ({
    type,
    status: 'True',
    lastTransitionTime: now,
    reason,
    message,
  });
  return {
    acceptedNames: spec.names,
    conditions: [
      cond('NamesAccepted', 'NoConflicts', 'no conflicts found'),
      cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
    ],
    storedVersions: storage ? [String(storage.name)] : [],
  };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const VERSION_NAME = DNS_LABEL;

export function validateCrd(crd: KObj): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = asObj(crd.spec);
  const names = asObj(spec.names);
  const group = typeof spec.group === 'string' ? spec.group : '';
  if (!group) causes.push(required('spec.group'));
  else if (!group.includes('.'))
    causes.push(invalid('spec.group', group, 'should be a domain with at least one dot'));
  if (!names.plural) causes.push(required('spec.names.plural'));
  else if (!DNS_LABEL.test(String(names.plural)))
    causes.push(
      invalid(
        'spec.names.plural',
        names.plural,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
      ),
    );
  if (!names.kind) causes.push(required('spec.names.kind'));
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') {
    causes.push({
      reason: 'FieldValueNotSupported',
      field: 'spec.scope',
      message: `Unsupported value: ${JSON.stringify(spec.scope ?? '')}: supported values: "Cluster", "Namespaced"`,
    });
  }
  const expected = `${String(names.plural ?? '')}.${group}`;
  if (crd.metadata.name !== expected) {
    causes.push(invalid('metadata.name', crd.metadata.name, `must be spec.names.plural+"."+spec.group`));
  }
  const versions = asArr(spec.versions);
  if (versions.length === 0)
    causes.push(required('spec.versions', 'must have exactly one version marked as storage version'));
  const storageCount = versions.filter((v) => v.storage === true).length;
  if (versions.length > 0 && storageCount !== 1) {
    causes.push(
      invalid(
        'spec.versions',
        versions.map((v) => v.name),
        'must have exactly one version marked as storage version',
      ),
    );
  }
  versions.forEach((v, i) => {
    if (typeof v.name !== 'string' || !VERSION_NAME.test(v.name)) {
      causes.push(
        invalid(
          `spec.versions[${i}].name`,
          v.name,
          "a DNS-1035 label must consist of lower case alphanumeric characters or '-'",
        ),
      );
    }
    if (!asObj(v.schema).openAPIV3Schema) {
      causes.push(required(`spec.versions[${i}].schema.openAPIV3Schema`, 'schemas are required'));
    }
  });
  return causes;
}
