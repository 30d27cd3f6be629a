// Loaded into every test process before its test file (package.json "tap"."node-arg"): what a
// test, its in-process servers, the processes it spawns and the libraries they use would write
// under the user's home goes to a temp folder instead:
// - XDG_CACHE_HOME: the conversion cache's default ($XDG_CACHE_HOME/tessera/conversions) and ONNX
//   Runtime's own files ($XDG_CACHE_HOME/Microsoft);
// - XDG_CONFIG_HOME: Chromium's (the API docs test's browser);
// - npm_config_logs_dir, npm_config_cache: the debug log and the (unused) cache folder of an
//   `npm start` a test runs (and npm's update check, which keeps a file in ~/.npm, is off).
// `npm test` (scripts/run-tests.mjs) gives one folder to the whole run in TESSERA_TEST_HOME and
// removes it at the end; a test file run on its own (`npx tap FILE`) gets one of its own, removed
// when it exits.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let home = process.env.TESSERA_TEST_HOME;
if (home === undefined || home === '') {
  const own = mkdtempSync(join(tmpdir(), 'tessera-test-home-'));
  process.on('exit', () => rmSync(own, { recursive: true, force: true }));
  home = own;
}
for (const [variable, folder] of [
  ['XDG_CACHE_HOME', 'cache'],
  ['XDG_CONFIG_HOME', 'config'],
  ['npm_config_logs_dir', 'npm-logs'],
  ['npm_config_cache', 'npm-cache'],
]) {
  const path = join(home, folder);
  mkdirSync(path, { recursive: true });
  process.env[variable] = path;
}
process.env.npm_config_update_notifier = 'false';
