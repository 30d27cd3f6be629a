// A Tessera server for the load scripts (fuzz.mjs, soak.mjs): `bin/tessera.mjs start` on copies of
// some bundled models, on 127.0.0.1 with free ports, and its RSS read from /proc.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A process's RSS in bytes from /proc (Linux); undefined elsewhere or once it is gone. */
export function procRss(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return line === undefined ? undefined : Number(line.split(/\s+/)[1]) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Starts the server on a temp repository holding copies of `models` (from settings/models) and
 * resolves once it is ready: its HTTP URL, gRPC address, metrics URL and pid, `exited` (its {code, signal}) and
 * `stop()` (SIGTERM, then the repository removed; resolves with its {code, signal}).
 */
export async function startBundledServer(models, tempPrefix) {
  const repo = mkdtempSync(join(tmpdir(), tempPrefix));
  for (const name of models) cpSync(join(ROOT, 'settings', 'models', name), join(repo, name), { recursive: true });
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'tessera.mjs'), 'start', repo, '--host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0'], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const addresses = await new Promise((resolve, reject) => {
    child.stdout.on('data', (c) => {
      out += c.toString();
      const http = /HTTP listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      const grpc = /gRPC listening on (127\.0\.0\.1:\d+)/.exec(out);
      const metrics = /metrics listening on (127\.0\.0\.1:\d+\/[^"\s]*)/.exec(out);
      if (http && grpc && metrics) resolve({ url: http[1], grpcAddress: grpc[1], metricsUrl: `http://${metrics[1]}` });
    });
    child.on('exit', (code) => reject(new Error(`the server exited with ${code} before listening`)));
  });
  child.stdout.resume();
  for (let i = 0; i < 600; i++) {
    const res = await fetch(`${addresses.url}/v2/health/ready`).catch(() => undefined);
    if (res?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    ...addresses,
    pid: child.pid,
    exited,
    stop: async () => {
      child.kill('SIGTERM');
      const result = await exited;
      rmSync(repo, { recursive: true, force: true });
      return result;
    },
  };
}

/**
 * The server's main-thread V8 heap (committed and used bytes) from its Prometheus endpoint
 * and per space (prom-client's default nodejs_heap_size_* and nodejs_heap_space_size_* gauges);
 * undefined when it cannot be read.
 */
export async function mainHeap(metricsUrl) {
  const text = await fetch(metricsUrl)
    .then((r) => (r.ok ? r.text() : ''))
    .catch(() => '');
  const gauge = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const total = gauge('nodejs_heap_size_total_bytes');
  const used = gauge('nodejs_heap_size_used_bytes');
  // Committed bytes per V8 space (new, old, code, large_object, ...), to see which one grows.
  const spaces = {};
  for (const m of text.matchAll(/^nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)$/gm)) spaces[m[1]] = Number(m[2]);
  return Number.isFinite(total) && Number.isFinite(used) ? { total, used, spaces } : undefined;
}
