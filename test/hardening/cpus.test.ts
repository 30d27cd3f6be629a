// Worker count in containers: os.availableParallelism() counts the node's cores, not the pod's CPU
// limit, so the default worker count and ORT threads were sized to the node. The cgroup quota
// (v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us) now caps them. Parsers and the lookup,
// over made-up cgroup trees.
import { availableParallelism } from 'node:os';
import t from 'tap';
import { availableCpus, cgroupCpuLimit, parseCfsQuota, parseCpuMax, parseProcCgroup } from '../../src/workers/cpus.js';

const tree = (files: Record<string, string>) => (path: string): string | undefined => files[path];

t.test('parsers', async (t) => {
  t.equal(parseCpuMax('200000 100000\n'), 2);
  t.equal(parseCpuMax('150000 100000'), 1.5);
  t.equal(parseCpuMax('50000'), 0.5, 'the period defaults to 100000');
  t.equal(parseCpuMax('max 100000'), undefined, 'max: no limit');
  t.equal(parseCpuMax('garbage'), undefined);
  t.equal(parseCfsQuota('400000\n', '100000\n'), 4);
  t.equal(parseCfsQuota('-1', '100000'), undefined, '-1: no limit');
  t.same(parseProcCgroup('0::/kubepods/pod1/ctr\n'), { v2: '/kubepods/pod1/ctr', v1cpu: undefined });
  t.same(parseProcCgroup('12:memory:/a\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/x\n'), { v2: undefined, v1cpu: '/docker/abc' });
  t.same(parseProcCgroup('0::/a:b\n'), { v2: '/a:b', v1cpu: undefined }, 'a path may hold colons');
});

t.test('the tightest quota of the cgroup and its ancestors, v2 then v1', async (t) => {
  t.equal(
    cgroupCpuLimit(tree({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '200000 100000\n' })),
    2,
    'v2, a container with its own cgroup namespace',
  );
  t.equal(
    cgroupCpuLimit(
      tree({
        '/proc/self/cgroup': '0::/kubepods/pod/ctr\n',
        '/sys/fs/cgroup/kubepods/pod/ctr/cpu.max': 'max 100000\n',
        '/sys/fs/cgroup/kubepods/pod/cpu.max': '300000 100000\n',
        '/sys/fs/cgroup/kubepods/cpu.max': '800000 100000\n',
      }),
    ),
    3,
    "v2: the pod's limit applies to its container",
  );
  t.equal(
    cgroupCpuLimit(
      tree({
        '/proc/self/cgroup': '4:cpu,cpuacct:/\n',
        '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '150000\n',
        '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
      }),
    ),
    1.5,
    'v1, cpu,cpuacct mount',
  );
  t.equal(
    cgroupCpuLimit(tree({ '/proc/self/cgroup': '2:cpu:/\n', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' })),
    undefined,
    'v1 without a quota',
  );
  t.equal(cgroupCpuLimit(tree({})), undefined, 'no cgroup files at all');
});

t.test('available CPUs: the cores, lowered to the quota, rounded down, at least 1', async (t) => {
  const cores = availableParallelism();
  const limited = (max: string) => tree({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': max });
  t.equal(availableCpus(limited('max 100000')), cores);
  t.equal(availableCpus(limited('50000 100000')), 1, 'half a CPU: 1');
  t.equal(availableCpus(limited(`${(cores + 1) * 100000 + 50000} 100000`)), cores, 'a quota above the cores: the cores');
  if (cores >= 2) t.equal(availableCpus(limited('150000 100000')), 1, '1.5 CPUs: 1 (threads are not throttled)');
  t.ok(availableCpus() >= 1 && availableCpus() <= cores, `this machine: ${availableCpus()} of ${cores} cores`);
});
