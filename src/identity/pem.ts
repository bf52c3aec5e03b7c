/** Helpers for PEM bundles (RFC 7468): several `-----BEGIN …-----` blocks in one string. */

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?\r?\n-----END \1-----/g;

/** Every PEM block in `text` of the given label (e.g. `CERTIFICATE`), each ending in a newline. */
export function splitPem(text: string, label = 'CERTIFICATE'): string[] {
  const blocks: string[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    if (match[1] === label) blocks.push(`${match[0].replace(/\r\n/g, '\n')}\n`);
  }
  return blocks;
}

/** Concatenates PEM blocks, one per line group, as TLS stacks expect a chain file to look. */
export function joinPem(blocks: readonly string[]): string {
  return blocks.map((b) => (b.endsWith('\n') ? b : `${b}\n`)).join('');
}

/** The first certificate of a bundle, or a clear error: callers pass chains where a leaf is meant. */
export function firstCertificate(text: string): string | undefined {
  return splitPem(text)[0];
}

/** DER as one PEM block of `label`, 64-character lines and LF ends (what openssl writes). */
export function derToPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
