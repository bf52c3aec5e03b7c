/**
 * A minimal protobuf codec for flat proto3 messages of strings and integers: all that the identity
 * and health services use. Hand-written so the service needs no `.proto` file at run time (tsc does
 * not copy them into dist) and no direct dependency on protobufjs. Encoding per
 * https://protobuf.dev/programming-guides/encoding/: tag = field << 3 | wire type; varint (0) for
 * int64/enum, length-delimited (2) for string; proto3 omits default values; unknown fields skipped.
 */
export type FieldKind = 'string' | 'int64' | 'enum';
export interface FieldSpec<T> {
  no: number;
  name: keyof T & string;
  kind: FieldKind;
}

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

export interface MessageCodec<T> {
  encode(message: T): Buffer;
  decode(bytes: Uint8Array): T;
}

export function messageCodec<T extends object>(fields: readonly FieldSpec<T>[]): MessageCodec<T> {
  const byNumber = new Map(fields.map((f) => [f.no, f]));
  return {
    encode(message) {
      const parts: Buffer[] = [];
      for (const f of fields) {
        const value = (message as Record<string, unknown>)[f.name];
        if (f.kind === 'string') {
          if (typeof value !== 'string' || value === '') continue;
          const bytes = Buffer.from(value, 'utf8');
          parts.push(varint(BigInt((f.no << 3) | LEN)), varint(BigInt(bytes.length)), bytes);
        } else {
          if (typeof value !== 'number' || value === 0) continue;
          // Negative int64/enum values are sent as 10-byte two's complement varints.
          parts.push(
            varint(BigInt((f.no << 3) | VARINT)),
            varint(BigInt.asUintN(64, BigInt(Math.trunc(value)))),
          );
        }
      }
      return Buffer.concat(parts);
    },
    decode(bytes) {
      const out: Record<string, unknown> = {};
      for (const f of fields) out[f.name] = f.kind === 'string' ? '' : 0;
      const reader = { buf: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), pos: 0 };
      while (reader.pos < reader.buf.length) {
        const tag = readVarint(reader);
        const no = Number(tag >> 3n);
        const wire = Number(tag & 7n);
        const f = byNumber.get(no);
        if (wire === VARINT) {
          const v = readVarint(reader);
          if (f && f.kind !== 'string') out[f.name] = Number(BigInt.asIntN(64, v));
        } else if (wire === LEN) {
          const len = Number(readVarint(reader));
          const end = reader.pos + len;
          if (end > reader.buf.length) throw new Error('protobuf: truncated length-delimited field');
          if (f && f.kind === 'string') out[f.name] = reader.buf.toString('utf8', reader.pos, end);
          reader.pos = end;
        } else if (wire === I64 || wire === I32) {
          reader.pos += wire === I64 ? 8 : 4;
          if (reader.pos > reader.buf.length) throw new Error('protobuf: truncated fixed-width field');
        } else {
          throw new Error(`protobuf: unsupported wire type ${wire}`);
        }
      }
      return out as T;
    },
  };
}

function varint(value: bigint): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes);
}

function readVarint(reader: { buf: Buffer; pos: number }): bigint {
  let result = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    const byte = reader.buf[reader.pos++];
    if (byte === undefined) throw new Error('protobuf: truncated varint');
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return result;
  }
  throw new Error('protobuf: varint longer than 10 bytes');
}
