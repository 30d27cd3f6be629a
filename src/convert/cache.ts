// The conversion cache: ONNX graphs made from sklearn pickles and XGBoost files, kept in a folder
// across restarts, keyed by the source file's SHA-256 and the converter's version and options (so a
// new Tessera, a changed file or other options convert again). Each entry is two files written
// atomically (a temporary name, then rename): `<key>.onnx` and `<key>.json` (the facts the load log
// and the MLflow runtime need, with the ONNX bytes' own hash, checked on every read).
//
// The cache never stops a load: a folder that cannot be created or written (a read-only container)
// turns caching off for that load, which converts in memory and reports why. It is never written
// inside the model's own folder.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { ConvertedModel } from './model.js';

/** The folder the setting conversion_cache_dir means: unset → the user's cache folder; null → none. */
export function conversionCacheDir(setting: string | null | undefined, env: Record<string, string | undefined>, cwd = process.cwd()): string | null {
  if (setting === null) return null;
  if (setting !== undefined) return path.resolve(cwd, setting);
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && path.isAbsolute(xdg)) return path.join(xdg, 'tessera', 'conversions');
  let home: string;
  try {
    home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir();
  } catch {
    return null; // no home folder (a container user without one): no default cache
  }
  return path.join(home, '.cache', 'tessera', 'conversions');
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** What a cache entry records beside the graph. */
const factsSchema = z.object({
  recipe: z.string(),
  sourceSha256: z.string(),
  onnxSha256: z.string(),
  onnxBytes: z.number().int().nonnegative(),
  estimator: z.string(),
  task: z.enum(['classifier', 'regressor', 'transformer']),
  description: z.string(),
  featureNames: z.array(z.string()).optional(),
  convertMs: z.number(),
});
export type ConversionFacts = z.infer<typeof factsSchema>;

export function factsOf(model: ConvertedModel, recipe: string, sourceSha256: string, convertMs: number): ConversionFacts {
  return {
    recipe,
    sourceSha256,
    onnxSha256: sha256(model.onnx),
    onnxBytes: model.onnx.byteLength,
    estimator: model.estimator,
    task: model.task,
    description: model.description,
    ...(model.featureNames !== undefined ? { featureNames: model.featureNames } : {}),
    convertMs,
  };
}

export type CacheOutcome = { stored: true; file: string } | { stored: false; reason: string };

export class ConversionCache {
  /** `dir` null: no cache (every lookup misses, nothing is stored). */
  constructor(readonly dir: string | null) {}

  /** The entry's name for a source and a recipe. */
  static key(sourceSha256: string, recipe: string): string {
    return createHash('sha256').update(`${recipe}\n${sourceSha256}`).digest('hex');
  }

  /** Why this cache may not be used for a model in `modelFolder`, or undefined when it may. */
  refusal(modelFolder: string | undefined): string | undefined {
    if (this.dir === null) return 'disabled (conversion_cache_dir null)';
    if (modelFolder !== undefined) {
      const rel = path.relative(path.resolve(modelFolder), this.dir);
      if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) return `not used: ${this.dir} is inside the model's folder ${modelFolder}`;
    }
    return undefined;
  }

  /** The cached graph and its facts, or undefined (absent, from another recipe, or damaged). */
  async get(key: string, recipe: string, sourceSha256: string): Promise<{ onnx: Uint8Array; facts: ConversionFacts; file: string } | undefined> {
    if (this.dir === null) return undefined;
    const base = path.join(this.dir, key);
    let facts: ConversionFacts;
    try {
      const parsed = factsSchema.safeParse(JSON.parse(await readFile(`${base}.json`, 'utf8')));
      if (!parsed.success) return undefined;
      facts = parsed.data;
    } catch {
      return undefined;
    }
    if (facts.recipe !== recipe || facts.sourceSha256 !== sourceSha256) return undefined;
    let onnx: Uint8Array;
    try {
      onnx = await readFile(`${base}.onnx`);
    } catch {
      return undefined;
    }
    // A damaged or truncated entry converts again (and is overwritten).
    if (onnx.byteLength !== facts.onnxBytes || sha256(onnx) !== facts.onnxSha256) return undefined;
    return { onnx, facts, file: `${base}.onnx` };
  }

  /** Stores an entry; never throws (an unwritable folder is reported, not fatal). */
  async put(key: string, onnx: Uint8Array, facts: ConversionFacts): Promise<CacheOutcome> {
    if (this.dir === null) return { stored: false, reason: 'disabled' };
    const base = path.join(this.dir, key);
    const tmp = `.${key}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const tmpOnnx = path.join(this.dir, `${tmp}.onnx`);
    const tmpJson = path.join(this.dir, `${tmp}.json`);
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(tmpOnnx, onnx);
      await writeFile(tmpJson, JSON.stringify(facts));
      // The graph first: the facts file's presence means a complete entry.
      await rename(tmpOnnx, `${base}.onnx`);
      await rename(tmpJson, `${base}.json`);
      return { stored: true, file: `${base}.onnx` };
    } catch (error) {
      await Promise.all([rm(tmpOnnx, { force: true }), rm(tmpJson, { force: true })]).catch(() => undefined);
      const e = error as NodeJS.ErrnoException;
      return { stored: false, reason: `${this.dir} is not writable (${e.code ?? e.message})` };
    }
  }
}
