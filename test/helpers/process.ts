// Child-process helpers: run the CLI, read its JSON log lines, find its HTTP address.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Child {
  proc: ChildProcess;
  lines: () => Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
  url: Promise<string>;
}

export function spawnLogged(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; detached?: boolean } = {}): Child {
  const proc = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, detached: options.detached ?? false, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let resolveUrl: (url: string) => void;
  let rejectUrl: (error: Error) => void;
  const url = new Promise<string>((resolve, reject) => {
    resolveUrl = resolve;
    rejectUrl = reject;
  });
  url.catch(() => undefined);
  proc.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    const m = /HTTP listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (m) resolveUrl(m[1]);
  });
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.on('close', (code) => {
      rejectUrl(new Error(`exited with ${code} before listening\n${out}\n${err}`));
      resolve(code);
    }),
  );
  const lines = (): Record<string, unknown>[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { proc, lines, stderr: () => err, exited, url };
}

export async function waitReady(url: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/v2/health/ready`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${ms} ms`);
}

/** Runs a command to its end (SIGKILL after `timeoutMs`): its exit code and standard error. */
export function runToExit(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
