// Browsers and Tessera: MLServer's `cors_settings` (its CORSSettings fields and defaults), and the
// rule that keeps web pages from changing the server's state.
//
// CORS: with `cors_settings` set, an allowed origin (listed in allow_origins, `*` for any, or
// matching allow_origin_regex in full) gets `Access-Control-Allow-Origin` on its answers, and its
// preflights (OPTIONS with Access-Control-Request-Method) are answered 204 with the allowed
// methods and headers when the method and headers are allowed; other preflights are refused (403).
// Without `cors_settings`, no origin is allowed (as MLServer).
//
// The cross-origin rule: a browser sends a "simple" request (GET/HEAD/POST whose Content-Type is
// absent, text/plain, application/x-www-form-urlencoded or multipart/form-data, with no custom
// header) to any origin without asking first; CORS only hides the answer from the page. A page
// could therefore unload a model with a text/plain POST. So every request that is not
// GET/HEAD/OPTIONS, comes from a page of another origin (its Origin header names another host, or
// Sec-Fetch-Site says cross-site/same-site) and is simple is refused with 403 before its body is
// read, whatever cors_settings allows. Allowed origins send application/json (or the binary
// extension's application/octet-stream, MLflow's text/csv): not simple, so the browser preflights
// it and CORS decides. Clients that are not browsers send no Origin and are not affected, and a
// page of Tessera's own origin (the Swagger UI) is not cross-origin.
import { z } from 'zod';

export const corsSettingsSchema = z
  .strictObject({
    allow_origins: z.array(z.string()).default([]).describe("origins allowed to make cross-origin requests; ['*'] for any"),
    allow_origin_regex: z
      .string()
      .refine(compiles, { message: 'expected a valid regular expression' })
      .nullable()
      .default(null)
      .describe('a regular expression an allowed origin matches in full'),
    allow_credentials: z.boolean().default(false).describe('allow cookies and credentials on cross-origin requests'),
    allow_methods: z.array(z.string()).default(['GET']).describe("methods allowed cross-origin; ['*'] for any"),
    allow_headers: z.array(z.string()).default([]).describe("request headers allowed cross-origin; ['*'] for any"),
    expose_headers: z.array(z.string()).default([]).describe('response headers a page may read'),
    max_age: z.number().int().min(0).default(600).describe('seconds a browser may cache a preflight answer'),
  })
  .describe("MLServer's CORSSettings");

export type CorsSettings = z.output<typeof corsSettingsSchema>;

function compiles(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

/** Request headers browsers send without a preflight; always allowed (as Starlette). */
const SAFELISTED_HEADERS = ['accept', 'accept-language', 'content-language', 'content-type'];

export type Preflight = { ok: true; headers: Record<string, string> } | { ok: false; reason: string };

export class CorsPolicy {
  private readonly origins: ReadonlySet<string>;
  private readonly anyOrigin: boolean;
  private readonly regex: RegExp | null;
  private readonly methods: readonly string[];
  private readonly anyMethod: boolean;
  private readonly headers: readonly string[];
  private readonly anyHeader: boolean;

  constructor(private readonly settings: CorsSettings | null) {
    this.origins = new Set(settings?.allow_origins ?? []);
    this.anyOrigin = this.origins.has('*');
    this.regex = settings?.allow_origin_regex == null ? null : new RegExp(`^(?:${settings.allow_origin_regex})$`);
    this.methods = (settings?.allow_methods ?? []).map((m) => m.toUpperCase());
    this.anyMethod = this.methods.includes('*');
    const allowed = (settings?.allow_headers ?? []).map((h) => h.toLowerCase());
    this.anyHeader = allowed.includes('*');
    this.headers = [...new Set([...SAFELISTED_HEADERS, ...allowed.filter((h) => h !== '*')])];
  }

  get configured(): boolean {
    return this.settings !== null;
  }

  originAllowed(origin: string): boolean {
    if (this.settings === null) return false;
    return this.anyOrigin || this.origins.has(origin) || (this.regex !== null && this.regex.test(origin));
  }

  /** The Access-Control-Allow-Origin value: `*` only for any origin without credentials. */
  private allowOrigin(origin: string): Record<string, string> {
    const s = this.settings as CorsSettings;
    const explicit = !this.anyOrigin || s.allow_credentials || this.regex !== null;
    return {
      'access-control-allow-origin': explicit ? origin : '*',
      ...(explicit ? { vary: 'Origin' } : {}),
      ...(s.allow_credentials ? { 'access-control-allow-credentials': 'true' } : {}),
    };
  }

  /** Headers for the answer to an actual request from `origin`; null when it is not allowed. */
  responseHeaders(origin: string): Record<string, string> | null {
    if (!this.originAllowed(origin)) return null;
    const s = this.settings as CorsSettings;
    return {
      ...this.allowOrigin(origin),
      ...(s.expose_headers.length > 0 ? { 'access-control-expose-headers': s.expose_headers.join(', ') } : {}),
    };
  }

  /** The answer to a preflight: its headers, or why it is refused. */
  preflight(origin: string, method: string, requestHeaders: string | undefined): Preflight {
    if (this.settings === null) return { ok: false, reason: `cross-origin requests are not allowed (no cors_settings); origin '${origin}'` };
    if (!this.originAllowed(origin)) return { ok: false, reason: `origin '${origin}' is not allowed (cors_settings.allow_origins, allow_origin_regex)` };
    const m = method.toUpperCase();
    if (!this.anyMethod && !this.methods.includes(m)) {
      return { ok: false, reason: `method ${m} is not allowed cross-origin (cors_settings.allow_methods: ${this.methods.join(', ') || 'none'})` };
    }
    const asked = (requestHeaders ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== '');
    const refused = this.anyHeader ? [] : asked.filter((h) => !this.headers.includes(h));
    if (refused.length > 0) return { ok: false, reason: `request headers not allowed cross-origin: ${refused.join(', ')} (cors_settings.allow_headers)` };
    const s = this.settings;
    return {
      ok: true,
      headers: {
        ...this.allowOrigin(origin),
        vary: 'Origin',
        'access-control-allow-methods': this.anyMethod ? m : this.methods.join(', '),
        'access-control-allow-headers': this.anyHeader ? asked.join(', ') : this.headers.join(', '),
        'access-control-max-age': String(s.max_age),
      },
    };
  }
}

/** Content types a browser sends cross-origin without a preflight (the Fetch standard's list). */
const SIMPLE_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'];

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface RequestLike {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Whether a request comes from a web page of another origin than the server's own. */
export function fromOtherOrigin(request: RequestLike): boolean {
  const origin = one(request.headers.origin);
  if (origin !== undefined) {
    if (origin === 'null') return true; // sandboxed frames, file: pages, redirects across origins
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return true;
    }
    return host.toLowerCase() !== (one(request.headers.host) ?? '').toLowerCase();
  }
  const site = one(request.headers['sec-fetch-site']);
  return site === 'cross-site' || site === 'same-site';
}

/** Whether a browser would send this request without a preflight (its Content-Type is simple). */
export function isSimpleRequest(request: RequestLike): boolean {
  const type = one(request.headers['content-type']);
  if (type === undefined || type.trim() === '') return true;
  const essence = type.split(';')[0].trim().toLowerCase();
  return SIMPLE_TYPES.includes(essence);
}

/** Why a request is refused by the cross-origin rule, or null when it passes. */
export function crossOriginRefusal(request: RequestLike): string | null {
  if (SAFE_METHODS.has(request.method)) return null;
  if (!fromOtherOrigin(request) || !isSimpleRequest(request)) return null;
  const type = one(request.headers['content-type']);
  return (
    `cross-origin ${request.method} refused: a web page of another origin sent it without a preflight ` +
    `(Content-Type ${type === undefined ? 'absent' : `'${type.split(';')[0].trim()}'`}); ` +
    'send Content-Type application/json from an origin allowed by cors_settings'
  );
}
