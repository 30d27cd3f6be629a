// joblib files: a pickle whose numpy arrays are written as NumpyArrayWrapper records followed by
// the raw array bytes (handled by the interpreter), optionally compressed as a whole. zlib and
// gzip are inflated with node:zlib under the input-size limit; joblib's other compressors are
// refused by name.
import { gunzipSync, inflateSync } from 'node:zlib';
import { PickleError, limitError } from './limits.js';

const COMPRESSORS: Array<{ name: string; magic: number[] }> = [
  { name: 'gzip', magic: [0x1f, 0x8b] },
  { name: 'zlib', magic: [0x78] },
  { name: 'bz2', magic: [0x42, 0x5a, 0x68] },
  { name: 'xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a] },
  { name: 'lzma', magic: [0x5d, 0x00] },
  { name: 'lz4', magic: [0x04, 0x22, 0x4d, 0x18] },
  { name: 'joblib < 0.10 zfile', magic: [0x5a, 0x46] },
];

/** Which compressor wrote `bytes`, or undefined for a plain pickle (which starts with an opcode). */
export function detectCompression(bytes: Uint8Array): string | undefined {
  // A protocol 2+ pickle starts with PROTO (0x80); none of the magics below starts that way.
  if (bytes[0] === 0x80) return undefined;
  return COMPRESSORS.find((c) => c.magic.every((b, i) => bytes[i] === b))?.name;
}

/** The pickle stream inside a joblib file: inflated when compressed with zlib or gzip. */
export function joblibPayload(bytes: Uint8Array, maxBytes: number): Uint8Array {
  const kind = detectCompression(bytes);
  if (kind === undefined) return bytes;
  if (kind !== 'zlib' && kind !== 'gzip') {
    throw new PickleError('UNSUPPORTED', `joblib file compressed with ${kind}: only zlib and gzip compression are supported (save with compress=('zlib', 3) or without compression)`);
  }
  try {
    const out = kind === 'gzip' ? gunzipSync(bytes, { maxOutputLength: maxBytes }) : inflateSync(bytes, { maxOutputLength: maxBytes });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE' || /larger than|maxOutputLength/i.test(err.message)) {
      throw limitError('maxInputBytes', `the ${kind}-compressed joblib file inflates to more than ${maxBytes} bytes`);
    }
    throw new PickleError('MALFORMED', `the ${kind}-compressed joblib file is corrupt: ${err.message}`);
  }
}
