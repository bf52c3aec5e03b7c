/**
 * `-o table|json|yaml` for every verb that prints a table, as kubectl and linkerd do: the table is
 * for people, json/yaml carry the same data for scripts (camelCase keys, stable order). Commands
 * import this module at registration, so the renderers load only when a command runs.
 */
import { Option } from 'commander';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The `-o, --output` option, restricted to the formats above (commander rejects others). */
export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table');
}

/** `data` as JSON or YAML, or `table()` for the human form; always ends with a newline. */
export async function renderOutput(
  format: OutputFormat,
  data: unknown,
  table: () => string,
): Promise<string> {
  let text: string;
  if (format === 'json') text = JSON.stringify(data, null, 2);
  else if (format === 'yaml') text = (await import('./kube-yaml.js')).kubeYaml(data);
  else text = table();
  return text.endsWith('\n') ? text : `${text}\n`;
}
