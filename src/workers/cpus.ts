// The CPUs this process may use: os.availableParallelism() counts the node's cores (and the CPU
// affinity mask), not a container's CPU limit. Under Kubernetes a pod limited to 2 CPUs on a
// 64-core node would start 63 workers with 64 ORT threads between them, all throttled by the CFS
// quota. The quota is read from the cgroup: v2 `cpu.max` ("<quota> <period>" or "max <period>"),
// v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1: none), for the process's own cgroup and its
// ancestors (the tightest applies), as /proc/self/cgroup names it.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Reads a file's text; undefined when it does not exist or cannot be read. */
export type ReadText = (path: string) => string | undefined;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** CPUs allowed by a cgroup v2 `cpu.max` text; undefined for "max" (no limit) or nonsense. */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period = '100000'] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return undefined;
  return quotaCpus(Number(quota), Number(period));
}

/** CPUs allowed by cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` texts; undefined for -1 (no limit). */
export function parseCfsQuota(quotaText: string, periodText: string): number | undefined {
  return quotaCpus(Number(quotaText.trim()), Number(periodText.trim()));
}

function quotaCpus(quota: number, period: number): number | undefined {
  if (!Number.isFinite(quota) || !Number.isFinite(period) || quota <= 0 || period <= 0) return undefined;
  return quota / period;
}

/** The cgroup paths of the process from /proc/self/cgroup: v2 ("0::/path") and v1's cpu controller. */
export function parseProcCgroup(text: string): { v2: string | undefined; v1cpu: string | undefined } {
  let v2: string | undefined;
  let v1cpu: string | undefined;
  for (const line of text.split('\n')) {
    // hierarchy-id:controllers:path (the path may itself hold colons)
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const id = line.slice(0, first);
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (id === '0' && controllers === '') v2 = path;
    else if (controllers.split(',').includes('cpu')) v1cpu = path;
  }
  return { v2, v1cpu };
}

/** `path` and its ancestors up to `/`, deepest first. */
function ancestors(path: string): string[] {
  const out: string[] = [];
  let p = path.replace(/\/+$/, '');
  for (;;) {
    out.push(p === '' ? '/' : p);
    if (p === '' || p === '/') return out;
    p = p.slice(0, p.lastIndexOf('/'));
  }
}

/**
 * The CPU limit of the process's cgroup (the smallest quota of its cgroup and its ancestors, v2
 * then v1), in CPUs, possibly fractional; undefined when there is none. `root` is where cgroups
 * are mounted (inside a container with its own cgroup namespace, the container's cgroup is the root).
 */
export function cgroupCpuLimit(read: ReadText = readText, root = '/sys/fs/cgroup'): number | undefined {
  const self = parseProcCgroup(read('/proc/self/cgroup') ?? '');
  const limits: number[] = [];
  const v2Path = self.v2 ?? '/';
  for (const dir of ancestors(v2Path)) {
    const text = read(`${root}${dir === '/' ? '' : dir}/cpu.max`);
    const cpus = text === undefined ? undefined : parseCpuMax(text);
    if (cpus !== undefined) limits.push(cpus);
  }
  if (limits.length === 0) {
    // v1: the cpu controller is mounted at cpu, cpu,cpuacct or cpuacct,cpu.
    for (const mount of ['cpu', 'cpu,cpuacct', 'cpuacct,cpu']) {
      for (const dir of ancestors(self.v1cpu ?? '/')) {
        const base = `${root}/${mount}${dir === '/' ? '' : dir}`;
        const quota = read(`${base}/cpu.cfs_quota_us`);
        const period = read(`${base}/cpu.cfs_period_us`);
        const cpus = quota === undefined || period === undefined ? undefined : parseCfsQuota(quota, period);
        if (cpus !== undefined) limits.push(cpus);
      }
      if (limits.length > 0) break;
    }
  }
  return limits.length === 0 ? undefined : Math.min(...limits);
}

/**
 * CPUs this process may use: the node's available parallelism, lowered to the cgroup's CPU quota
 * (rounded down: a 1.5-CPU quota runs 1 CPU's worth of threads unthrottled; at least 1).
 */
export function availableCpus(read?: ReadText, root?: string): number {
  const cores = availableParallelism();
  let limit: number | undefined;
  if (read === undefined && root === undefined) limit = (ownLimit ??= { cpus: cgroupCpuLimit() }).cpus;
  else limit = cgroupCpuLimit(read, root);
  return limit === undefined ? cores : Math.max(1, Math.min(cores, Math.floor(limit)));
}

/** This process's cgroup limit, read once (it does not change while the process runs). */
let ownLimit: { cpus: number | undefined } | undefined;
