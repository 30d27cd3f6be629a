// `tessera build-docker -m <model-uri> -n <image>`: `mlflow models build-docker` for Tessera. Writes
// a Docker build context holding the model (copied to /opt/ml/model in the image) and Tessera's
// image definition, then builds it when a Docker daemon answers (DOCKER_HOST honoured);
// `--output-directory DIR` only writes the context. The image follows the SageMaker contract that
// MLflow's images follow: `docker run IMAGE` (or `IMAGE serve`) serves the model on port 8080 with
// /ping and /invocations (and the V2 routes).
//
// The image definition is Tessera's own top-level Dockerfile, unchanged, plus two lines (the model
// and the `serve` default): the build context holds the same files `docker build .` sends (the
// Dockerfile's .dockerignore allow-list) and the model. Docker's layer cache therefore shares every
// Tessera layer between `docker build .` and every model image built on the same daemon: after the
// first build, a model image costs the model's layer only. `--tessera-image IMAGE` builds on an
// existing Tessera image instead (`FROM IMAGE`, for installs without Tessera's sources).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { MlflowModelError } from '../mlflow/errors.js';
import { resolveModelUri, type ResolvedModel } from '../mlflow/uri.js';
import { commandOptions, ignoredFlagWarnings, parseFlags, UsageError } from './command.js';
import { checkServable, REGISTERED_MODEL_META } from './serve-model.js';

/** Tessera's package root (source checkout: holds Dockerfile, .dockerignore and src/). */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_IMAGE_NAME = 'mlflow-pyfunc-servable'; // MLflow's default -n
/** Where SageMaker and MLflow's images keep the model. */
export const MODEL_DIR_IN_IMAGE = '/opt/ml/model';

const IGNORED_FLAGS: Record<string, string> = {
  'env-manager': 'the image runs no Python environment',
  'mlflow-home': 'the image needs no MLflow',
  'install-java': 'the image needs no Java',
  'install-mlflow': 'the image needs no MLflow',
  'enable-mlserver': 'the image serves the V2 protocol on the same port already',
  'base-image': 'use --tessera-image (a Tessera image) or `-- --build-arg BASE_IMAGE=<node image>`',
};

export const BUILD_DOCKER_HELP = `Usage: tessera build-docker -m <model-uri> [-n image] [options] [-- docker build arguments]

Builds a Docker image serving the model, as \`mlflow models build-docker\`: the model is copied to
${MODEL_DIR_IN_IMAGE}, and \`docker run -p 8080:8080 IMAGE\` serves it (SageMaker's contract: the \`serve\`
argument, port 8080, GET /ping, POST /invocations; also the V2 routes and /metrics) with
\`tessera serve -m ${MODEL_DIR_IN_IMAGE}\`. The image is Tessera's own (the top-level Dockerfile) plus the model.

Options:
  -m, --model-uri URI          the model (a path, file://, runs:/, models:/ as for tessera serve)
  -n, --name IMAGE             image name and tag (default ${DEFAULT_IMAGE_NAME})
      --output-directory DIR   only write the build context to DIR (build it later: docker build -t IMAGE DIR)
      --tessera-image IMAGE    build FROM this existing Tessera image instead of from Tessera's sources
  -h, --help                   this help
  -- ARGS                      passed to \`docker build\` (e.g. -- --network host --build-arg BASE_IMAGE=node:24-bookworm-slim)
  --env-manager, --mlflow-home, --install-java, --install-mlflow, --enable-mlserver, --base-image:
                               MLflow's, accepted and ignored.

The Docker client is /usr/bin/docker (else docker on PATH; TESSERA_DOCKER_CLI names another); DOCKER_HOST
selects the daemon. Without a daemon it stops with exit 1 (--output-directory needs none); usage mistakes exit 2.`;

export interface BuildDockerOptions {
  modelUri: string;
  name: string;
  outputDirectory: string | undefined;
  tesseraImage: string | undefined;
  dockerArgs: string[];
  warnings: string[];
}

export function parseBuildDockerArgs(argv: string[]): BuildDockerOptions | 'help' {
  const dash = argv.indexOf('--');
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const dockerArgs = dash === -1 ? [] : argv.slice(dash + 1);
  const v = parseFlags(own, {
    'model-uri': { type: 'string', short: 'm' },
    name: { type: 'string', short: 'n' },
    'output-directory': { type: 'string' },
    'tessera-image': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    'env-manager': { type: 'string' },
    'mlflow-home': { type: 'string' },
    'install-java': { type: 'boolean' },
    'install-mlflow': { type: 'boolean' },
    'enable-mlserver': { type: 'boolean' },
    'base-image': { type: 'string' },
  });
  if (v.help) return 'help';
  // MLflow builds a model-less image without -m; Tessera's plain image is that (docker build .).
  if (!v['model-uri']) throw new UsageError("Missing option '-m' / '--model-uri' (an image without a model is Tessera's own: docker build -t tessera .)");
  const name = v.name ?? DEFAULT_IMAGE_NAME;
  if (!/^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?$/.test(name) || name.length > 255) {
    throw new UsageError(`invalid image name '${name}': lowercase letters, digits, '.', '_', '-', '/' and ':' (a tag)`);
  }
  return {
    modelUri: v['model-uri'],
    name,
    outputDirectory: v['output-directory'],
    tesseraImage: v['tessera-image'],
    dockerArgs,
    warnings: ignoredFlagWarnings(v, IGNORED_FLAGS),
  };
}

/** The files `docker build .` sends for Tessera: the allow-list in the top-level .dockerignore. */
function tesseraContextFiles(root: string): { include: string[]; exclude: string[] } {
  const ignore = path.join(root, '.dockerignore');
  if (!existsSync(path.join(root, 'Dockerfile')) || !existsSync(ignore) || !existsSync(path.join(root, 'src'))) {
    throw new UsageError(
      `building Tessera's image needs its sources (Dockerfile, .dockerignore and src/ in ${root}); with an installed package, build on a Tessera image: --tessera-image <image>`,
    );
  }
  const include: string[] = [];
  const exclude: string[] = [];
  for (const raw of readFileSync(ignore, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line === '*') continue;
    if (line.startsWith('!')) include.push(line.slice(1).replace(/\/+$/, ''));
    else exclude.push(line.replace(/\/+$/, ''));
  }
  return { include, exclude };
}

/** Copies a tree with world-readable modes (the image's user is not the files' owner). */
function copyReadable(from: string, to: string, skip: (rel: string) => boolean = () => false, rel = ''): void {
  const st = statSync(from);
  if (st.isDirectory()) {
    mkdirSync(to, { recursive: true });
    chmodSync(to, 0o755);
    for (const name of readdirSync(from)) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      if (skip(childRel)) continue;
      copyReadable(path.join(from, name), path.join(to, name), skip, childRel);
    }
    return;
  }
  if (!st.isFile()) return; // sockets, fifos: nothing a model holds
  copyFileSync(from, to);
  chmodSync(to, st.mode & 0o111 ? 0o755 : 0o644);
}

/** The model as it goes into the image, with registered_model_meta for models:/ URIs (as MLflow's download writes). */
function writeModel(resolved: ResolvedModel, to: string): void {
  copyReadable(resolved.dir, to);
  if (resolved.via === 'registry' && resolved.name !== undefined && resolved.version !== undefined && !existsSync(path.join(to, REGISTERED_MODEL_META))) {
    writeFileSync(path.join(to, REGISTERED_MODEL_META), stringify({ model_name: resolved.name, model_version: resolved.version }));
    chmodSync(path.join(to, REGISTERED_MODEL_META), 0o644);
  }
}

const MODEL_LINES = (uri: string): string => `
# ---- tessera build-docker: the model (from ${uri.replace(/\n/g, ' ')}), served as SageMaker and MLflow's images are ----
COPY model/ ${MODEL_DIR_IN_IMAGE}/
CMD ["serve"]
`;

/** Writes the build context into `dir` (created, must be empty or absent). Returns what it wrote. */
export async function writeBuildContext(options: BuildDockerOptions, dir: string, env: NodeJS.ProcessEnv = process.env): Promise<{ resolved: ResolvedModel; dockerfile: string }> {
  const resolved = await resolveModelUri(options.modelUri, { env });
  await checkServable(resolved.dir);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new UsageError(`--output-directory ${dir} is not empty`);
  mkdirSync(dir, { recursive: true });
  let dockerfile: string;
  if (options.tesseraImage !== undefined) {
    dockerfile = `# An MLflow model served by Tessera (tessera build-docker), on the Tessera image ${options.tesseraImage}.\nFROM ${options.tesseraImage}\n${MODEL_LINES(options.modelUri)}`;
  } else {
    const { include, exclude } = tesseraContextFiles(PACKAGE_ROOT);
    const excluded = (rel: string): boolean => exclude.some((e) => rel === e || rel.startsWith(`${e}/`));
    for (const entry of include) {
      const from = path.join(PACKAGE_ROOT, entry);
      if (!existsSync(from)) continue;
      mkdirSync(path.dirname(path.join(dir, entry)), { recursive: true });
      copyReadable(from, path.join(dir, entry), (rel) => excluded(`${entry}/${rel}`));
    }
    copyFileSync(path.join(PACKAGE_ROOT, '.dockerignore'), path.join(dir, '.dockerignore'));
    // The model is part of this context: let it through Tessera's allow-list.
    writeFileSync(path.join(dir, '.dockerignore'), `${readFileSync(path.join(dir, '.dockerignore'), 'utf8').trimEnd()}\n!model/\n`);
    dockerfile = `${readFileSync(path.join(PACKAGE_ROOT, 'Dockerfile'), 'utf8').trimEnd()}\n${MODEL_LINES(options.modelUri)}`;
  }
  writeModel(resolved, path.join(dir, 'model'));
  writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
  return { resolved, dockerfile };
}

/** Debian's client (which builds with BuildKit), else docker on PATH. */
export function dockerClient(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TESSERA_DOCKER_CLI) return env.TESSERA_DOCKER_CLI;
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
}

/** undefined when a daemon answers, else why not. */
export function dockerUnavailable(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const res = spawnSync(dockerClient(env), ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8', env, timeout: 20_000 });
  if (res.error !== undefined) return `no Docker client (${dockerClient(env)}): ${res.error.message}`;
  if (res.status !== 0) return `no Docker daemon answers${env.DOCKER_HOST ? ` at DOCKER_HOST=${env.DOCKER_HOST}` : ''}: ${res.stderr.trim().split('\n').pop() ?? ''}`;
  return undefined;
}

export async function buildDockerMain(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const options = commandOptions('tessera build-docker', BUILD_DOCKER_HELP, () => parseBuildDockerArgs(argv));
  if (typeof options === 'number') return options;
  for (const w of options.warnings) process.stderr.write(`tessera build-docker: warning: ${w}\n`);
  const onlyContext = options.outputDirectory !== undefined;
  if (!onlyContext) {
    const why = dockerUnavailable(env);
    if (why !== undefined) {
      process.stderr.write(`tessera build-docker: ${why}\n(--output-directory DIR writes the build context without Docker)\n`);
      return 1;
    }
  }
  const dir = options.outputDirectory !== undefined ? path.resolve(options.outputDirectory) : mkdtempSync(path.join(tmpdir(), 'tessera-build-docker-'));
  try {
    const { resolved } = await writeBuildContext(options, dir, env);
    process.stderr.write(`tessera build-docker: build context for ${options.modelUri} (${resolved.dir}) written to ${dir}\n`);
    if (onlyContext) {
      process.stderr.write(`build it with: docker build -t ${options.name} ${dir}\n`);
      return 0;
    }
    const build = spawnSync(dockerClient(env), ['build', ...options.dockerArgs, '--tag', options.name, dir], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...env, DOCKER_BUILDKIT: env.DOCKER_BUILDKIT ?? '1' },
    });
    if (build.status !== 0) {
      process.stderr.write(`tessera build-docker: docker build failed (exit ${build.status ?? build.signal})\n`);
      return 1;
    }
    process.stderr.write(`tessera build-docker: built ${options.name}; run it with: docker run -p 8080:8080 ${options.name}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`tessera build-docker: ${error.message}\n`);
      return 2;
    }
    if (error instanceof MlflowModelError) {
      process.stderr.write(`tessera build-docker: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    if (!onlyContext) rmSync(dir, { recursive: true, force: true });
  }
}
