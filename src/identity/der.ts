/**
 * Reading DER by its lengths, re-encoding nothing: the bytes a signature covers are taken as they
 * stand (a CSR's CertificationRequestInfo, a CRL's tbsCertList), since a re-encoding could verify a
 * signature made over other bytes than those sent.
 */

/** One DER element: tag, where it starts, where its contents start, where it ends. */
export interface Tlv {
  tag: number;
  start: number;
  body: number;
  end: number;
}

/**
 * The element at `at`, within `limit`. Definite lengths only (DER), in any form: a long form where
 * a short one would do is read, so that the signature, not the parser, refuses bytes re-encoded.
 */
export function tlvAt(der: Buffer, at: number, limit: number, tag?: number): Tlv {
  if (at + 2 > limit) throw new Error('truncated DER');
  const t = der[at]!;
  if ((t & 0x1f) === 0x1f) throw new Error('a high tag number');
  let length = der[at + 1]!;
  let body = at + 2;
  if (length === 0x80) throw new Error('an indefinite length (BER, not DER)');
  if (length > 0x80) {
    const n = length & 0x7f;
    if (n > 4 || body + n > limit) throw new Error('truncated DER');
    length = der.readUIntBE(body, n);
    body += n;
  }
  const tlv = { tag: t, start: at, body, end: body + length };
  if (tlv.end > limit) throw new Error('truncated DER');
  if (tag !== undefined) expectTag(tlv, tag);
  return tlv;
}

export function childrenOf(der: Buffer, parent: Tlv): Tlv[] {
  const children: Tlv[] = [];
  for (let at = parent.body; at < parent.end; at = children.at(-1)!.end)
    children.push(tlvAt(der, at, parent.end));
  return children;
}

/** Throws unless `tlv` has `tag`; `where` names the rule it breaks. */
export function expectTag(tlv: Tlv, tag: number, where = 'RFC 2986 §4'): void {
  if (tlv.tag !== tag)
    throw new Error(`tag 0x${tlv.tag.toString(16)} where 0x${tag.toString(16)} belongs (${where})`);
}

/** The first element inside the SEQUENCE that `der` holds, as it stands in `der` (tag, length, content). */
export function firstElement(der: Buffer): Buffer {
  const outer = tlvAt(der, 0, der.length, 0x30);
  const first = tlvAt(der, outer.body, outer.end);
  return der.subarray(first.start, first.end);
}
