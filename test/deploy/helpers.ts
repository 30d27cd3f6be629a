// Helpers for the deployment tests: free loopback ports, bounded waits, and the CLI started the
// way a container manifest starts it (its args and env, with ports and paths remapped).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const HOST = '127.0.0.1';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().on('error', reject);
    srv.listen(0, HOST, () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns true; throws `what` after `ms`. */
export async function waitFor(what: string, probe: () => Promise<boolean>, ms: number, everyMs = 100): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await probe().catch(() => false)) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not reached after ${ms} ms`);
    await sleep(everyMs);
  }
}

/** GET `url` and true when it answers `status` (default 200). */
export async function answers(url: string, status = 200): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === status;
}

export interface Server {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  stop: () => Promise<number | null>;
}

/**
 * Runs `bin/tessera.mjs <args>` with exactly `env` (plus PATH and the Node options needed to run)
 * so a manifest's environment is what the server sees, as in its container.
 */
export function startCli(args: string[], env: Record<string, string>): Server {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_OPTIONS: '' };
  if (process.env.TESSERA_FROM_SOURCE !== undefined) base.TESSERA_FROM_SOURCE = process.env.TESSERA_FROM_SOURCE;
  if (process.env.TMPDIR !== undefined) base.TMPDIR = process.env.TMPDIR;
  // Test infrastructure, not the manifest's: the test-wide cache folder (test/helpers/test-env.mjs).
  if (process.env.XDG_CACHE_HOME !== undefined) base.XDG_CACHE_HOME = process.env.XDG_CACHE_HOME;
  const proc = spawn(process.execPath, [`${ROOT}/bin/tessera.mjs`, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
  proc.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  const stop = async (): Promise<number | null> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return { proc, output: () => out, exited, stop };
}

export interface Ports {
  http: number;
  grpc: number;
  metrics: number;
}

/**
 * Starts the CLI on three free loopback ports (`envFor` puts them in the environment) and resolves
 * once `readyPath` answers 200. A picked port can be bound by another test before the server binds
 * it (two test files run at once): when the server exits saying an address is in use, it starts
 * again on new ports, up to 3 times. Any other exit before ready, or no readiness within
 * `readyMs`, rejects with the server's output, at once rather than at the timeout.
 */
export async function startCliOnFreePorts(
  args: string[],
  envFor: (ports: Ports) => Record<string, string>,
  { readyMs = 60_000, readyPath = '/v2/health/ready' }: { readyMs?: number; readyPath?: string } = {},
): Promise<{ server: Server; ports: Ports; base: string }> {
  for (let attempt = 1; ; attempt++) {
    const ports = { http: await freePort(), grpc: await freePort(), metrics: await freePort() };
    const server = startCli(args, envFor(ports));
    const base = `http://${HOST}:${ports.http}`;
    let exited = false;
    void server.exited.then(() => (exited = true));
    const t0 = Date.now();
    while (!exited && Date.now() - t0 <= readyMs) {
      if (await answers(`${base}${readyPath}`).catch(() => false)) return { server, ports, base };
      await sleep(100);
    }
    if (exited && /address is already in use/.test(server.output()) && attempt < 3) continue;
    await server.stop();
    throw new Error(exited ? `the server exited before ready:\n${server.output()}` : `readiness: not reached after ${readyMs} ms\n${server.output()}`);
  }
}
