// Settings: MLServer's names and defaults, precedence defaults < file < environment < flags,
// TESSERA_ and MLSERVER_ variables, clear errors naming source/field/value/expectation, and
// Python-only fields ignored with a warning.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { SettingsError, loadModelSettings, loadServerSettings } from '../../src/config/load.js';
import { tempDir } from '../helpers/files.js';

t.test('defaults are MLServer defaults', async (t) => {
  const folder = tempDir(t);
  const { settings, repositoryRoot } = loadServerSettings({ folder, env: {} });
  t.match(settings, {
    http_port: 8080,
    grpc_port: 8081,
    metrics_port: 8082,
    host: '127.0.0.1', // not MLServer's 0.0.0.0: this machine only (the container image sets 0.0.0.0)
    load_models_at_startup: true,
    model_repository_root: '.',
    server_name: 'tessera',
    extensions: [],
    debug: false,
    metrics_endpoint: '/metrics',
    http_max_input_size: 64 * 1024 * 1024,
  });
  t.equal(repositoryRoot, folder);
});

t.test('precedence: defaults < settings.json < environment < flags', async (t) => {
  const folder = tempDir(t);
  writeFileSync(
    join(folder, 'settings.json'),
    JSON.stringify({ http_port: 9001, grpc_port: 9002, metrics_port: 9003, server_name: 'from-file', debug: true }),
  );
  const env = { TESSERA_GRPC_PORT: '9102', MLSERVER_METRICS_PORT: '9103', TESSERA_SERVER_NAME: 'from-env', MLSERVER_SERVER_NAME: 'loses' };
  const { settings } = loadServerSettings({ folder, env, flags: { metrics_port: '9203' } });
  t.equal(settings.http_port, 9001, 'file beats default');
  t.equal(settings.grpc_port, 9102, 'TESSERA_ env beats file');
  t.equal(settings.metrics_port, 9203, 'flag beats env');
  t.equal(settings.server_name, 'from-env', 'TESSERA_ beats MLSERVER_');
  t.equal(settings.debug, true);
  t.equal(settings.host, '127.0.0.1', 'default where nothing is set');
});

t.test('environment values are typed: booleans, lists, null', async (t) => {
  const folder = tempDir(t);
  const { settings } = loadServerSettings({
    folder,
    env: { MLSERVER_DEBUG: 'true', TESSERA_EXTENSIONS: 'a, b', TESSERA_METRICS_ENDPOINT: 'null', MLSERVER_LOAD_MODELS_AT_STARTUP: '0' },
  });
  t.equal(settings.debug, true);
  t.same(settings.extensions, ['a', 'b']);
  t.equal(settings.metrics_endpoint, null);
  t.equal(settings.load_models_at_startup, false);
});

t.test('model_repository_root is relative to the settings folder; MLSERVER_MODELS_DIR loses to it', async (t) => {
  const folder = tempDir(t);
  writeFileSync(join(folder, 'settings.json'), JSON.stringify({ model_repository_root: 'models' }));
  t.equal(loadServerSettings({ folder, env: { MLSERVER_MODELS_DIR: '/mnt/models' } }).repositoryRoot, join(folder, 'models'));
  const bare = tempDir(t);
  t.equal(loadServerSettings({ folder: bare, env: { MLSERVER_MODELS_DIR: '/mnt/models' } }).repositoryRoot, '/mnt/models');
});

t.test('invalid settings name the source, the field, the value and the expectation', async (t) => {
  const folder = tempDir(t);
  const file = join(folder, 'settings.json');
  writeFileSync(file, JSON.stringify({ http_port: 'eighty' }));
  t.throws(() => loadServerSettings({ folder, env: {} }), {
    name: 'SettingsError',
    message: new RegExp(`${file.replace(/[/.]/g, '\\$&')}: field 'http_port' has value "eighty"; expected number`),
  });
  writeFileSync(file, '{}');
  t.throws(() => loadServerSettings({ folder, env: { TESSERA_HTTP_PORT: '70000' } }), {
    message: /environment variable TESSERA_HTTP_PORT: field 'http_port' has value 70000; expected .*65535/,
  });
  t.throws(() => loadServerSettings({ folder, env: {}, flags: { parallel_workers: 'many' } }), {
    message: /flag --parallel-workers: field 'parallel_workers' has value "many"; expected number/,
  });
  t.throws(() => loadServerSettings({ folder, env: {}, flags: { log_level: 'loud' } }), { message: /field 'log_level' has value "loud"/ });
  writeFileSync(file, '{ not json');
  t.throws(() => loadServerSettings({ folder, env: {} }), { message: /settings.json is not valid JSON/ });
});

t.test('Python-only and unknown fields are ignored with a warning', async (t) => {
  const folder = tempDir(t);
  writeFileSync(join(folder, 'settings.json'), JSON.stringify({ environments_dir: '/x', kafka_enabled: true, http_port: 1234, bogus: 1 }));
  const { settings, warnings } = loadServerSettings({ folder, env: {} });
  t.equal(settings.http_port, 1234);
  t.match(warnings.join('\n'), /'environments_dir' is ignored/);
  t.match(warnings.join('\n'), /'kafka_enabled' is ignored: Kafka is not supported/);
  t.match(warnings.join('\n'), /unknown field 'bogus' is ignored/);
});

t.test('model settings: MLServer fields, defaults, env overrides, ignored Python fields, errors', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'model-settings.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'm',
      implementation: 'mlserver_onnx.OnnxModel',
      max_batch_size: 8,
      parameters: { uri: './model.onnx', version: '2', environment_tarball: './env.tar.gz', extra: { intra_op_threads: 1 } },
    }),
  );
  const { settings, warnings } = loadModelSettings(file, {});
  t.match(settings, { name: 'm', max_batch_size: 8, max_batch_time: 0, versions: [], inputs: [], outputs: [], parameters: { uri: './model.onnx', version: '2' } });
  t.notOk('environment_tarball' in settings.parameters, 'Python-only parameter dropped');
  t.match(warnings.join('\n'), /'parameters.environment_tarball' is ignored/);

  const overridden = loadModelSettings(file, { MLSERVER_MODEL_MAX_BATCH_SIZE: '16', TESSERA_MODEL_VERSION: '3', MLSERVER_MODEL_NAME: 'renamed' });
  t.equal(overridden.settings.max_batch_size, 16, 'env beats the file');
  t.equal(overridden.settings.parameters.version, '3', 'parameters fields come from TESSERA_MODEL_<FIELD> too');
  t.equal(overridden.settings.name, 'renamed');

  writeFileSync(file, JSON.stringify({ name: 'm', max_batch_size: -1 }));
  t.throws(() => loadModelSettings(file, {}), SettingsError);
  t.throws(() => loadModelSettings(file, {}), { message: /model-settings.json: field 'max_batch_size' has value -1; expected/ });
  writeFileSync(file, JSON.stringify({ inputs: [{ name: 'x', datatype: 'FLOAT', shape: [1] }] }));
  t.throws(() => loadModelSettings(file, {}), { message: /field 'inputs.0.datatype' has value "FLOAT"/ });
});

t.test('heap_growing_percent: 30 by default, 0 (V8 adaptive) to 300, whole numbers only', async (t) => {
  const folder = tempDir(t);
  t.equal(loadServerSettings({ folder, env: {} }).settings.heap_growing_percent, 30);
  t.equal(loadServerSettings({ folder, env: { TESSERA_HEAP_GROWING_PERCENT: '0' } }).settings.heap_growing_percent, 0);
  t.equal(loadServerSettings({ folder, env: { TESSERA_HEAP_GROWING_PERCENT: '100' } }).settings.heap_growing_percent, 100);
  t.throws(() => loadServerSettings({ folder, env: { TESSERA_HEAP_GROWING_PERCENT: '301' } }), {
    message: /environment variable TESSERA_HEAP_GROWING_PERCENT: field 'heap_growing_percent' has value 301; expected .*300/,
  });
  t.throws(() => loadServerSettings({ folder, env: { TESSERA_HEAP_GROWING_PERCENT: '12.5' } }), { message: /field 'heap_growing_percent' has value 12.5/ });
  t.throws(() => loadServerSettings({ folder, env: { TESSERA_HEAP_GROWING_PERCENT: '-1' } }), { message: /field 'heap_growing_percent' has value -1/ });
});
