// JSON as MLflow's scoring server reads it (Python's json.loads): NaN, Infinity and -Infinity are
// accepted, integers are exact at any size (bigint beyond 2^53), and errors read like Python's
// JSONDecodeError ("Expecting value: line 1 column 1 (char 0)"). The common case (no such
// literals) is plain JSON.parse; the small parser below runs only when it must.

export type PyJson = null | boolean | number | bigint | string | PyJson[] | { [key: string]: PyJson };

/** A JSON syntax error with Python's wording and position. */
export class PyJsonError extends Error {
  constructor(
    readonly msg: string,
    readonly pos: number,
    text: string,
  ) {
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    const col = pos - before.lastIndexOf('\n');
    super(`${msg}: line ${line} column ${col} (char ${pos})`);
    this.name = 'JSONDecodeError';
  }
}

// An integer literal of 16+ digits (may not fit a double), or a Python-only literal.
const NEEDS_SLOW_PATH = /(?:^|[^\d.eE+-])-?\d{16,}(?![\d.eE])|NaN|Infinity/;
export const MAX_DEPTH = 512;

export function parsePythonJson(text: string): PyJson {
  if (!NEEDS_SLOW_PATH.test(text)) {
    try {
      return JSON.parse(text) as PyJson;
    } catch {
      // Fall through: the parser below finds the error and words it as Python does.
    }
  }
  return new Parser(text).document();
}

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  private fail(msg: string, pos = this.pos): never {
    throw new PyJsonError(msg, pos, this.text);
  }

  document(): PyJson {
    this.space();
    const value = this.value(0);
    this.space();
    if (this.pos !== this.text.length) this.fail('Extra data');
    return value;
  }

  private space(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  private value(depth: number): PyJson {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
    const t = this.text;
    const c = t[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (t.startsWith('null', this.pos)) return (this.pos += 4), null;
    if (t.startsWith('true', this.pos)) return (this.pos += 4), true;
    if (t.startsWith('false', this.pos)) return (this.pos += 5), false;
    if (t.startsWith('NaN', this.pos)) return (this.pos += 3), NaN;
    if (t.startsWith('Infinity', this.pos)) return (this.pos += 8), Infinity;
    if (t.startsWith('-Infinity', this.pos)) return (this.pos += 9), -Infinity;
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/.exec(t.slice(this.pos, this.pos + 400));
    if (!m) return this.fail('Expecting value');
    this.pos += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  }

  private object(depth: number): PyJson {
    const out: Record<string, PyJson> = {};
    this.pos++;
    this.space();
    if (this.text[this.pos] === '}') return this.pos++, out;
    for (;;) {
      if (this.text[this.pos] !== '"') this.fail('Expecting property name enclosed in double quotes');
      const key = this.string();
      this.space();
      if (this.text[this.pos] !== ':') this.fail("Expecting ':' delimiter");
      this.pos++;
      this.space();
      const value = this.value(depth + 1);
      // defineProperty keeps a "__proto__" key an ordinary member.
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      this.space();
      const c = this.text[this.pos];
      if (c === '}') return this.pos++, out;
      if (c !== ',') this.fail("Expecting ',' delimiter");
      this.pos++;
      this.space();
    }
  }

  private array(depth: number): PyJson {
    const out: PyJson[] = [];
    this.pos++;
    this.space();
    if (this.text[this.pos] === ']') return this.pos++, out;
    for (;;) {
      out.push(this.value(depth + 1));
      this.space();
      const c = this.text[this.pos];
      if (c === ']') return this.pos++, out;
      if (c !== ',') this.fail("Expecting ',' delimiter");
      this.pos++;
      this.space();
    }
  }

  private string(): string {
    const start = this.pos;
    const t = this.text;
    let i = start + 1;
    for (; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) i++;
      else if (c < 0x20) this.fail('Invalid control character at', i);
    }
    if (i >= t.length) this.fail('Unterminated string starting at', start);
    this.pos = i + 1;
    try {
      return JSON.parse(t.slice(start, i + 1)) as string;
    } catch {
      return this.fail('Invalid \\escape', start);
    }
  }
}

// ---- Python's view of JSON values, for messages ---------------------------------------------

/** The Python class a JSON value decodes to, as `type(x)` prints it. */
export function pyTypeName(v: PyJson | undefined): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  return Array.isArray(v) ? 'list' : 'dict';
}

export const pyClass = (v: PyJson | undefined): string => `<class '${pyTypeName(v)}'>`;

export function isJsonObject(v: PyJson | undefined): v is { [key: string]: PyJson } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
