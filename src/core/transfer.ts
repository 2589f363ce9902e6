/**
 * The buffers of the typed arrays in a value that own their whole buffer: those move to another
 * thread without a copy. Views into a shared buffer (Node's small-Buffer pool, a slice of a larger
 * array) are copied by the message instead, so the sender's other data stays intact.
 */
export function ownedBuffers(value: unknown, out: ArrayBuffer[] = []): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.byteOffset === 0 && value.byteLength === value.buffer.byteLength && value.buffer instanceof ArrayBuffer && !out.includes(value.buffer)) out.push(value.buffer);
  } else if (Array.isArray(value)) for (const v of value) ownedBuffers(v, out);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) ownedBuffers(v, out);
  return out;
}
