// The access decision shared by HTTP and gRPC: the caller's bearer token (the `authorization`
// header or metadata), the class of what it calls, and the tokens in force give either the
// caller's identity or the refusal, with the challenge HTTP sends back (RFC 6750 section 3):
//   - no token, or not a Bearer one: 401 / UNAUTHENTICATED, `WWW-Authenticate: Bearer realm=...`;
//   - a token that is not one of ours: 401 / UNAUTHENTICATED, `error="invalid_token"`;
//   - a valid token without a scope that grants the class: 403 / PERMISSION_DENIED,
//     `error="insufficient_scope"`.
// Open classes (`auth_open`) need no token; a valid token there still names the caller.
import type { Identity } from '../core/context.js';
import { permissionDenied, unauthenticated, type TesseraError } from '../core/errors.js';
import { grants, neededScope, type RouteClass } from './scopes.js';
import type { TokenStore } from './tokens.js';

export const REALM = 'tessera';

export type Decision = { ok: true; identity: Identity | undefined } | { ok: false; error: TesseraError; challenge: string };

const ALLOWED: Decision = { ok: true, identity: undefined };

/** The token of an `Authorization: Bearer <token>` value; null for another scheme or a malformed value. */
export function bearerToken(header: string | undefined): string | null | undefined {
  if (header === undefined || header === '') return undefined;
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  return m === null ? null : m[1];
}

export class AccessPolicy {
  constructor(
    private readonly tokens: TokenStore | null,
    private readonly open: ReadonlySet<RouteClass>,
  ) {}

  /** Whether any check is made at all (auth_tokens or auth_tokens_file set). */
  get enabled(): boolean {
    return this.tokens !== null;
  }

  isOpen(cls: RouteClass): boolean {
    return this.tokens === null || this.open.has(cls);
  }

  /**
   * Decides a call of class `cls`. `what` names the call in messages (`POST /v2/repository/...`,
   * `RepositoryModelUnload`); `how` says where the token goes (header or metadata).
   */
  decide(cls: RouteClass, authorization: string | undefined, what: string, how: string): Decision {
    if (this.tokens === null) return ALLOWED;
    const token = bearerToken(authorization);
    const identity = typeof token === 'string' ? this.tokens.identify(token) : undefined;
    if (this.open.has(cls)) return identity === undefined ? ALLOWED : { ok: true, identity };
    if (token === undefined) {
      return {
        ok: false,
        error: unauthenticated(`authentication required: ${what} needs a bearer token (${how} 'authorization: Bearer <token>')`),
        challenge: `Bearer realm="${REALM}"`,
      };
    }
    if (token === null) {
      return {
        ok: false,
        error: unauthenticated(`authentication required: the authorization ${how} must be 'Bearer <token>'`),
        challenge: `Bearer realm="${REALM}", error="invalid_request"`,
      };
    }
    if (identity === undefined) {
      return { ok: false, error: unauthenticated('the bearer token is not valid'), challenge: `Bearer realm="${REALM}", error="invalid_token"` };
    }
    if (!grants(identity.scopes, cls)) {
      const scope = neededScope(cls);
      return {
        ok: false,
        error: permissionDenied(`permission denied: ${what} needs a token with the scope '${scope}' (this token has: ${identity.scopes.join(', ')})`),
        challenge: `Bearer realm="${REALM}", error="insufficient_scope", scope="${scope}"`,
      };
    }
    return { ok: true, identity };
  }
}
