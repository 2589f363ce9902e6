/**
 * Just enough protobuf for the formats trajforge writes by hand (tf.train.Example, ONNX): a
 * writer that concatenates encoded fields and a reader that walks one message's fields. Pure, so
 * it runs anywhere; no schema, callers know their field numbers.
 */
import { TrajforgeError } from './errors.js';

/** Wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit. */
export type WireType = 0 | 1 | 2 | 5;

const utf8 = new TextEncoder();

export class Proto {
  private parts: Uint8Array[] = [];
  private size = 0;
  private push(b: Uint8Array) {
    this.parts.push(b);
    this.size += b.length;
  }
  /** A bare varint; negative numbers take ten bytes (two's complement), as int64 requires. */
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      out.push(b);
    } while (x > 0n);
    this.push(Uint8Array.from(out));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    this.push(b);
    return this;
  }
  /** An int32 / int64 / enum / bool field. */
  int(field: number, v: number | bigint): this {
    return this.tag(field, 0).varint(v);
  }
  /** Repeated int64 written one element per tag (proto2's unpacked default, what ONNX emits). */
  ints(field: number, values: readonly (number | bigint)[]): this {
    for (const v of values) this.int(field, v);
    return this;
  }
  /** A `float` field (fixed 32-bit, little-endian). */
  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.tag(field, 5);
    this.push(b);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }
  /** An embedded message. */
  message(field: number, m: Proto): this {
    return this.bytes(field, m.done());
  }
  done(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** One decoded field: `value` is a bigint for varints, the payload bytes otherwise. */
export type ProtoField =
  | { readonly field: number; readonly wire: 0; readonly value: bigint }
  | { readonly field: number; readonly wire: 1 | 2 | 5; readonly value: Uint8Array };

function malformed(what: string): TrajforgeError {
  return new TrajforgeError('E_MODEL_SHAPE', `malformed protobuf: ${what}`);
}

/** Decodes the varint at bytes[pos]; returns it (as uint64) and the position after it. */
function decodeVarint(bytes: Uint8Array, pos: number): [value: bigint, next: number] {
  let result = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (pos >= bytes.length) throw malformed('truncated varint');
    const b = bytes[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [BigInt.asUintN(64, result), pos];
  }
  throw malformed('varint longer than 10 bytes');
}

/** The fields of one message, in wire order. Throws E_MODEL_SHAPE on truncated or unknown encodings. */
export function readFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    const [value, next] = decodeVarint(bytes, pos);
    pos = next;
    return value;
  };
  const take = (n: number): Uint8Array => {
    if (pos + n > bytes.length) throw malformed('field runs past the end of the message');
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  while (pos < bytes.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw malformed('field number 0');
    if (wire === 0) fields.push({ field, wire, value: varint() });
    else if (wire === 1) fields.push({ field, wire, value: take(8) });
    else if (wire === 2) fields.push({ field, wire, value: take(Number(varint())) });
    else if (wire === 5) fields.push({ field, wire, value: take(4) });
    else throw malformed(`unsupported wire type ${wire}`);
  }
  return fields;
}

/** Values of a repeated integer field, accepting both packed and unpacked encodings; int64 semantics. */
export function readInts(fields: readonly ProtoField[], field: number): bigint[] {
  const out: bigint[] = [];
  for (const f of fields) {
    if (f.field !== field) continue;
    if (f.wire === 0) out.push(BigInt.asIntN(64, f.value));
    else if (f.wire === 2) {
      // Packed: the payload is a run of bare varints.
      for (let pos = 0; pos < f.value.length; ) {
        const [value, next] = decodeVarint(f.value, pos);
        out.push(BigInt.asIntN(64, value));
        pos = next;
      }
    } else throw malformed(`field ${field} is not an integer`);
  }
  return out;
}

/** Payloads of a length-delimited field (strings, bytes, messages), in order. */
export function readBytes(fields: readonly ProtoField[], field: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of fields) {
    if (f.field !== field) continue;
    if (f.wire !== 2) throw malformed(`field ${field} is not length-delimited`);
    out.push(f.value);
  }
  return out;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

export function readStrings(fields: readonly ProtoField[], field: number): string[] {
  return readBytes(fields, field).map((b) => utf8Decoder.decode(b));
}
