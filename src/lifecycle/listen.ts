// A listener that cannot start (a port in use, a host that is not this machine's or does not
// resolve) is a settings problem: start-up stops with exit code 2 and one line naming the
// listener, the address, the settings and the reason, not a stack trace.
import { SettingsError } from '../core/errors.js';

const REASONS: Record<string, string> = {
  EADDRINUSE: 'the address is already in use',
  EADDRNOTAVAIL: "the address is not one of this machine's",
  EACCES: 'permission denied (ports below 1024 need privileges)',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved',
  EAI_NONAME: 'the host name does not resolve',
  EAFNOSUPPORT: 'the address family is not supported',
  EINVAL: 'the address is not valid',
  ERR_SOCKET_BAD_PORT: 'the port is not valid',
};

/** `error` as a SettingsError naming what failed to listen, or unchanged when it is something else. */
export function listenError(error: unknown, what: string, host: string, port: number, setting: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !Object.hasOwn(REASONS, code)) return error;
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new SettingsError(`cannot listen for ${what} on ${address} (settings host, ${setting}): ${REASONS[code]}`);
}
