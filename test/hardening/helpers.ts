// Helpers of the hardening battery: the server as a child process (for signals and exit codes),
// raw sockets, request bodies, and an RSS sampler.
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { spawnLogged, type Child } from '../helpers/process.js';

export const BIN = fileURLToPath(new URL('../../bin/tessera.mjs', import.meta.url));
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * The CLI without the test runner's hooks. It runs dist/ when that is current (npm test builds it
 * first), else the TypeScript sources: bin/tessera.mjs never runs a stale build.
 */
export const CHILD_ENV: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };

export interface ChildServer extends Child {
  /** host:port of the gRPC listener. */
  grpc: Promise<string>;
}

/**
 * `tessera start <folder>` on ephemeral loopback ports, with more flags; `command` is what runs
 * `tessera start` (default: node bin/tessera.mjs start; `npm start --` is another).
 */
export function startChild(folder: string, flags: string[] = [], command: string[] = [process.execPath, BIN, 'start']): ChildServer {
  const [exe, ...pre] = command;
  const child = spawnLogged(exe, [...pre, folder, '--host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', ...flags], {
    env: CHILD_ENV,
    cwd: ROOT,
  });
  const grpc = (async () => {
    await child.url;
    for (let i = 0; i < 200; i++) {
      const line = child.lines().find((l) => /^gRPC listening on /.test(String(l.msg)));
      if (line !== undefined) return String(line.msg).replace('gRPC listening on ', '');
      await sleep(25);
    }
    throw new Error('no gRPC address logged');
  })();
  grpc.catch(() => undefined);
  return { ...child, grpc };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An FP32 request of `rows` rows of `width` values, as JSON text. */
export function fp32Body(input: string, rows: number, width: number, value = '0.25'): string {
  const row = '[' + new Array(width).fill(value).join(',') + ']';
  return `{"inputs":[{"name":"${input}","shape":[${rows},${width}],"datatype":"FP32","data":[${new Array(rows).fill(row).join(',')}]}]}`;
}

/** A raw TCP connection to a port of 127.0.0.1; resolves once connected. */
export function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything a socket receives until it closes (or `ms` pass), and whether it closed. */
export function readUntilClosed(socket: Socket, ms: number): Promise<{ text: string; closed: boolean; afterMs: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    let text = '';
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      resolve({ text, closed, afterMs: performance.now() - started });
    };
    socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
    socket.once('close', () => done(true));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => done(false), ms);
  });
}

/** The JSON body of a raw HTTP response text. */
export function responseJson(text: string): { status: number; headers: string; json: unknown } {
  const [head, ...rest] = text.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  let json: unknown;
  try {
    json = JSON.parse(rest.join('\r\n\r\n'));
  } catch {
    json = undefined;
  }
  return { status, headers: head.toLowerCase(), json };
}

/** Samples this process's RSS every `everyMs` until stopped; reports the largest seen. */
export function rssSampler(everyMs = 50): { stop: () => number; baseline: number } {
  const baseline = process.memoryUsage.rss();
  let max = baseline;
  const timer = setInterval(() => (max = Math.max(max, process.memoryUsage.rss())), everyMs);
  return {
    baseline,
    stop: () => {
      clearInterval(timer);
      return Math.max(max, process.memoryUsage.rss());
    },
  };
}

export const MB = 1024 * 1024;
