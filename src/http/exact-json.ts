// JSON parsing that keeps 64-bit integers exact.
//
// JSON.parse turns every number into a double, so INT64/UINT64 values beyond 2^53 lose their low
// bits. Integer literals of 15 digits or fewer are always exact as doubles, so the fast path is
// plain JSON.parse whenever the text holds no integer literal of 16+ digits (one regex scan, far
// cheaper than the parse). Otherwise a small recursive-descent parser runs, which returns such
// literals as bigint when they do not fit a double exactly. Strings are still decoded by JSON.parse.
import { isUtf8 } from 'node:buffer';
import { badRequest } from '../core/errors.js';

/** A JSON value as parsed here: like JSON.parse's, plus bigint for unsafe integer literals. */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

// A run of 16+ digits that is not the fraction or exponent of a float and not followed by one.
const LONG_INTEGER = /(?:^|[^\d.eE+-])-?\d{16,}(?![\d.eE])/;

export const MAX_JSON_DEPTH = 100;

/**
 * Parses a JSON request body given as bytes: it must be valid UTF-8 (JSON's encoding; decoding
 * would otherwise turn bad bytes into U+FFFD without a word). Nesting is limited as parseJson does.
 */
export function parseJsonBytes(bytes: Uint8Array): JsonValue {
  if (!isUtf8(bytes)) throw badRequest('malformed JSON in request body: it is not valid UTF-8');
  return parseJson(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
}

/** The characters that matter for nesting: brackets, and quotes (a bracket inside a string is text). */
const STRUCTURE = /[[\]{}"]/g;

/**
 * Throws when arrays and objects nest deeper than MAX_JSON_DEPTH, stopping at the first character
 * past the limit. JSON.parse has no depth limit of its own: a 32 MB body of '[' (a 62 KB gzip)
 * kept it, and the event loop, busy for 23 s. One regex pass over the structural characters
 * (about a tenth of JSON.parse's time on numeric data); malformed JSON is left to the parser.
 */
export function checkNesting(text: string): void {
  if (text.length < SCAN_BELOW) return scanNesting(text);
  const re = STRUCTURE;
  re.lastIndex = 0;
  let depth = 0;
  try {
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const c = text.charCodeAt(m.index);
      if (c === 0x5b || c === 0x7b) {
        if (++depth > MAX_JSON_DEPTH) throw badRequest(`malformed JSON in request body: nesting deeper than ${MAX_JSON_DEPTH} at character ${m.index}`);
      } else if (c === 0x5d || c === 0x7d) {
        depth--;
      } else {
        // A string: continue after its closing quote (one not escaped by an odd run of backslashes).
        let from = m.index + 1;
        for (;;) {
          const q = text.indexOf('"', from);
          if (q < 0) return; // unterminated: the parser reports it
          let slashes = 0;
          while (text.charCodeAt(q - 1 - slashes) === 0x5c) slashes++;
          if (slashes % 2 === 0) {
            re.lastIndex = q + 1;
            break;
          }
          from = q + 1;
        }
      }
    }
  } finally {
    re.lastIndex = 0;
  }
}

/**
 * Texts shorter than this are checked by a plain character loop: for a small request body it is
 * 3x faster than the regex pass and allocates nothing (the regex allocates a match per bracket);
 * on megabytes the regex, which skips numbers natively, is 3x faster.
 */
const SCAN_BELOW = 4096;

function scanNesting(text: string): void {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) throw badRequest(`malformed JSON in request body: nesting deeper than ${MAX_JSON_DEPTH} at character ${i}`);
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x22) {
      // A string: continue after its closing quote (one not escaped by an odd run of backslashes).
      for (;;) {
        const q = text.indexOf('"', i + 1);
        if (q < 0) return; // unterminated: the parser reports it
        let slashes = 0;
        while (text.charCodeAt(q - 1 - slashes) === 0x5c) slashes++;
        i = q;
        if (slashes % 2 === 0) break;
      }
    }
  }
}

export function parseJson(text: string): JsonValue {
  try {
    if (!LONG_INTEGER.test(text)) {
      checkNesting(text);
      return JSON.parse(text) as JsonValue;
    }
    return new ExactParser(text).parseDocument();
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof RangeError) {
      throw badRequest(`malformed JSON in request body: ${error.message}`);
    }
    throw error;
  }
}

class ExactParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parseDocument(): JsonValue {
    const value = this.value(0);
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('unexpected text after the JSON value');
    return value;
  }

  private fail(what: string): never {
    throw new SyntaxError(`${what} at position ${this.pos}`);
  }

  private skipSpace(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  private value(depth: number): JsonValue {
    if (depth > MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH}`);
    this.skipSpace();
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: // {
        return this.object(depth);
      case 0x5b: // [
        return this.array(depth);
      case 0x22: // "
        return this.string();
      case 0x74: // t
        return this.literal('true', true);
      case 0x66: // f
        return this.literal('false', false);
      case 0x6e: // n
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail(Number.isNaN(c) ? 'unexpected end of JSON input' : `unexpected character '${this.text[this.pos]}'`);
    }
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail('invalid literal');
    this.pos += word.length;
    return value;
  }

  private number(): number | bigint {
    const t = this.text;
    const start = this.pos;
    let p = start;
    if (t.charCodeAt(p) === 0x2d) p++;
    const digitsStart = p;
    while (p < t.length && t.charCodeAt(p) >= 0x30 && t.charCodeAt(p) <= 0x39) p++;
    if (p === digitsStart) this.fail('invalid number');
    if (t.charCodeAt(digitsStart) === 0x30 && p - digitsStart > 1) this.fail('invalid number (leading zero)');
    let integer = true;
    if (t.charCodeAt(p) === 0x2e) {
      integer = false;
      p++;
      const fracStart = p;
      while (p < t.length && t.charCodeAt(p) >= 0x30 && t.charCodeAt(p) <= 0x39) p++;
      if (p === fracStart) this.fail('invalid number');
    }
    const e = t.charCodeAt(p);
    if (e === 0x65 || e === 0x45) {
      integer = false;
      p++;
      if (t.charCodeAt(p) === 0x2b || t.charCodeAt(p) === 0x2d) p++;
      const expStart = p;
      while (p < t.length && t.charCodeAt(p) >= 0x30 && t.charCodeAt(p) <= 0x39) p++;
      if (p === expStart) this.fail('invalid number');
    }
    this.pos = p;
    const literal = t.slice(start, p);
    const n = Number(literal);
    if (integer && !Number.isSafeInteger(n)) return BigInt(literal);
    return n;
  }

  private string(): string {
    const t = this.text;
    const start = this.pos;
    let p = start + 1;
    let escaped = false;
    for (;;) {
      const c = t.charCodeAt(p);
      if (Number.isNaN(c)) this.fail('unterminated string');
      if (c === 0x22) break;
      if (c === 0x5c) {
        escaped = true;
        p += 2;
        continue;
      }
      if (c < 0x20) this.fail('control character in string');
      p++;
    }
    this.pos = p + 1;
    return escaped ? (JSON.parse(t.slice(start, p + 1)) as string) : t.slice(start + 1, p);
  }

  private array(depth: number): JsonValue[] {
    this.pos++;
    const out: JsonValue[] = [];
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos++);
      if (c === 0x5d) return out;
      if (c !== 0x2c) this.fail("expected ',' or ']'");
    }
  }

  private object(depth: number): { [key: string]: JsonValue } {
    this.pos++;
    const out: { [key: string]: JsonValue } = {};
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text.charCodeAt(this.pos) !== 0x22) this.fail('expected a property name');
      const key = this.string();
      this.skipSpace();
      if (this.text.charCodeAt(this.pos++) !== 0x3a) this.fail("expected ':'");
      const value = this.value(depth + 1);
      // defineProperty so a "__proto__" key is data, never the prototype (as JSON.parse does).
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos++);
      if (c === 0x7d) return out;
      if (c !== 0x2c) this.fail("expected ',' or '}'");
    }
  }
}
