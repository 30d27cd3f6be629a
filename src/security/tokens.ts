// Bearer tokens: from the `auth_tokens` setting and the `auth_tokens_file` file, one token per
// entry (line) with its scopes and an optional subject (who the token belongs to, for logs and
// the request context):
//
//     <token> <scope>[,<scope>...] [<subject>]        # comments and blank lines are skipped
//
// Tokens are kept only as SHA-256 digests, and a presented token is compared with every digest
// in constant time (no early exit), so neither the comparison nor the table reveals a token by
// timing. No message, log line or error ever contains a token: entries are named by their
// position ("auth_tokens[2]", "tokens.txt line 4").
//
// The file is re-read when it changes (polled every second: that also sees Kubernetes' symlink
// swaps of mounted secrets, and works on file systems without change notification) and on
// SIGHUP. A re-read that fails (unreadable file, a bad line) keeps the tokens in force and logs
// why: a half-written file must not lock everyone out, nor let anyone in.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Identity } from '../core/context.js';
import { SettingsError } from '../core/errors.js';
import { SCOPES, type Scope } from './scopes.js';

/** RFC 6750's b64token: what a bearer token may be made of. */
const TOKEN_CHARS = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Shorter tokens are refused: they can be guessed. */
export const MIN_TOKEN_LENGTH = 16;

export interface TokenEntry {
  digest: Buffer;
  identity: Identity;
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** One entry (`where` names it in errors); throws SettingsError, never showing the token. */
export function parseTokenEntry(text: string, where: string): TokenEntry {
  const [token, scopeList, subject, ...rest] = text.trim().split(/\s+/);
  if (token === undefined || token === '') throw new SettingsError(`${where}: empty token entry`);
  if (!TOKEN_CHARS.test(token)) {
    throw new SettingsError(`${where}: the token has characters a bearer token cannot have (letters, digits and -._~+/ then '=' padding)`);
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new SettingsError(`${where}: the token has ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} (e.g. openssl rand -hex 32)`);
  }
  if (scopeList === undefined) {
    throw new SettingsError(`${where}: no scopes after the token; write "<token> <scope>[,<scope>...] [<subject>]" with scopes from ${SCOPES.join(', ')}`);
  }
  const scopes = scopeList.split(',').filter((s) => s !== '');
  for (const s of scopes) {
    if (!(SCOPES as readonly string[]).includes(s)) throw new SettingsError(`${where}: unknown scope '${s}' (scopes: ${SCOPES.join(', ')})`);
  }
  if (scopes.length === 0) throw new SettingsError(`${where}: no scopes after the token (scopes: ${SCOPES.join(', ')})`);
  if (rest.length > 0) throw new SettingsError(`${where}: more than "<token> <scopes> <subject>" on one entry`);
  return { digest: digest(token), identity: { subject: subject ?? where, scopes: [...new Set(scopes)] as Scope[] } };
}

/** The entries of a tokens file's text; `name` names the file in errors. */
export function parseTokenFile(text: string, name: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const content = line.replace(/(^|\s)#.*$/, '').trim();
    if (content !== '') entries.push(parseTokenEntry(content, `${name} line ${i + 1}`));
  });
  return entries;
}

function checkUnique(entries: readonly TokenEntry[]): void {
  const seen = new Map<string, string>();
  for (const e of entries) {
    const key = e.digest.toString('hex');
    const other = seen.get(key);
    if (other !== undefined) throw new SettingsError(`the same token is given twice (${other} and ${e.identity.subject})`);
    seen.set(key, e.identity.subject);
  }
}

export interface TokenStoreOptions {
  /** Entries of the auth_tokens setting. */
  tokens: readonly string[];
  /** auth_tokens_file, resolved. */
  file: string | null;
  logger: Logger;
  /** How often the file is checked for changes, ms. */
  pollMs?: number;
}

export class TokenStore {
  private fixed: TokenEntry[];
  private fromFile: TokenEntry[] = [];
  private readonly file: string | null;
  private readonly logger: Logger;
  private readonly onChange = (curr: Stats, prev: Stats): void => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) this.reload('changed');
  };
  private readonly onHangup = (): void => this.reload('SIGHUP');

  /** Reads the setting's entries and the file; throws SettingsError naming the bad entry. */
  constructor(options: TokenStoreOptions) {
    this.logger = options.logger;
    this.file = options.file === null ? null : path.resolve(options.file);
    this.fixed = options.tokens.map((t, i) => parseTokenEntry(t, `auth_tokens[${i}]`));
    if (this.file !== null) {
      this.fromFile = this.readFile();
      watchFile(this.file, { interval: options.pollMs ?? 1000, persistent: false }, this.onChange);
      process.on('SIGHUP', this.onHangup);
    }
    checkUnique(this.all());
  }

  private readFile(): TokenEntry[] {
    const file = this.file as string;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new SettingsError(`auth_tokens_file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    return parseTokenFile(text, `auth_tokens_file ${path.basename(file)}`);
  }

  private all(): TokenEntry[] {
    return [...this.fixed, ...this.fromFile];
  }

  /** Re-reads the file; on failure the tokens in force stay and the reason is logged. */
  reload(why: string): void {
    if (this.file === null) return;
    try {
      const entries = this.readFile();
      checkUnique([...this.fixed, ...entries]);
      this.fromFile = entries;
      this.logger.info({ tokens: entries.length, why }, 'auth_tokens_file re-read');
    } catch (error) {
      this.logger.error({ reason: (error as Error).message, why }, 'auth_tokens_file could not be re-read: the tokens read before stay in force');
    }
  }

  /** How many tokens are in force. */
  get size(): number {
    return this.fixed.length + this.fromFile.length;
  }

  /** The identity of a presented token, or undefined. Compares with every token, in constant time. */
  identify(token: string): Identity | undefined {
    const presented = digest(token);
    let found: Identity | undefined;
    for (const entry of this.all()) {
      if (timingSafeEqual(presented, entry.digest) && found === undefined) found = entry.identity;
    }
    return found;
  }

  close(): void {
    if (this.file === null) return;
    unwatchFile(this.file, this.onChange);
    process.off('SIGHUP', this.onHangup);
  }
}
