// Absolute paths out of API answers. A model's load failure often names a file ("ENOENT ... open
// '/srv/models/iris/model.onnx'", "module /srv/models/x/runtime.mjs does not exist"), and those
// messages reach clients in /v2/models reasons, the repository index and load errors. Clients
// learn the server's file layout from them; they only need the model's own files, relative to the
// model repository. So every answer that can carry such a message goes through a redactor:
//   - a path inside the repository root becomes relative to it (`iris/model.onnx`);
//   - any other absolute path (inside the other known folders, or under a usual top-level folder
//     such as /tmp, /home, /usr, /opt, /mnt, /var) keeps only its last segment (`…/model.onnx`).
// URL paths of routes (/v2/models/x) are left alone: only known folders and usual top-level
// folders are taken for file paths.
import path from 'node:path';

/** Top-level folders whose paths are file paths, not routes (Linux, macOS, containers). */
const TOP_LEVEL = ['tmp', 'home', 'Users', 'usr', 'opt', 'mnt', 'var', 'etc', 'srv', 'root', 'data', 'models', 'work', 'workspace', 'private', 'nix', 'run', 'app', 'proc', 'media', 'lib', 'snap'];

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Characters that end a path inside a message: whitespace, quotes, brackets, separators. */
const PATH_CHARS = "[^\\s'\"`()\\[\\]{}<>,;|]";

export type Redactor = (text: string) => string;

/**
 * A redactor for messages of a server whose models live under `root`. `known` folders (the
 * settings folder, the install folder, ...) are recognised as file paths wherever they are.
 */
export function pathRedactor(root: string, known: readonly string[] = []): Redactor {
  const base = path.resolve(root);
  const folders = [...new Set([base, ...known.map((k) => path.resolve(k))])]
    .filter((f) => f !== path.sep)
    .sort((a, b) => b.length - a.length);
  const starts = [...folders.map(escape), `/(?:${TOP_LEVEL.join('|')})/`];
  // A path starts where no path character precedes it (so `a/b` in `application/json` is not one).
  const pattern = new RegExp(`(?<![\\w.~/-])(?:file://)?(?:${starts.join('|')})${PATH_CHARS}*`, 'g');
  const rewrite = (found: string): string => {
    let text = found.startsWith('file://') ? found.slice('file://'.length) : found;
    // A sentence's full stop or colon after a path is not part of it.
    const tail = /[.:]+$/.exec(text)?.[0] ?? '';
    text = text.slice(0, text.length - tail.length);
    const resolved = path.resolve(text);
    if (resolved === base) return `.${tail}`;
    if (resolved.startsWith(base + path.sep)) return path.relative(base, resolved) + tail;
    return `…/${path.basename(resolved)}${tail}`;
  };
  return (text) => (text.includes('/') ? text.replace(pattern, rewrite) : text);
}

/** Every string inside a plain value (a gRPC answer) redacted; other values as they are. */
export function redactValue(redact: Redactor, value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(redact, v));
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactValue(redact, v);
    return out;
  }
  return value;
}
