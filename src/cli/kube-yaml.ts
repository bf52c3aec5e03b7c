/**
 * YAML for Kubernetes' readers. The `yaml` package writes YAML 1.2, where NEL (U+0085), U+2028 and
 * U+2029 are ordinary characters that may stand raw in a scalar; kubectl and client-go read YAML 1.1
 * (go-yaml), where they are line breaks: a plain scalar holding one is refused ("could not find
 * expected ':'"), and in a block or quoted scalar the break is folded into a space. Such strings are
 * written double-quoted with the characters escaped (`\N`, `\L`, `\P`, which both read back).
 */
import { Document, visit } from 'yaml';

const YAML_11_BREAKS = /[\u0085\u2028\u2029]/;
const ESCAPES: Record<string, string> = { '\u0085': '\\N', '\u2028': '\\L', '\u2029': '\\P' };

/** One document, as `stringify(value)` with no line folding, safe for kubectl and client-go. */
export function kubeYaml(value: unknown): string {
  const doc = new Document(value, { aliasDuplicateObjects: false });
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && YAML_11_BREAKS.test(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  // Every such character is now inside a double-quoted scalar (keys included; the document has no
  // comments), where an escape means the same character.
  return doc.toString({ lineWidth: 0 }).replace(new RegExp(YAML_11_BREAKS, 'g'), (c) => ESCAPES[c] ?? c);
}

/** Several documents, one `---` line between each, for `kubectl apply -f -`. */
export function toYamlStream(objects: object[]): string {
  return objects.map(kubeYaml).join('---\n');
}
