// Generates the bundled example models: `tsx src/modelgen/cli.ts [--out DIR] [--if-missing] [NAME...]`.
// npm's prepare/prestart hooks run it with --if-missing so a fresh clone gets the (uncommitted) mlp.
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { writeExamples } from './examples.js';

const { values, positionals } = parseArgs({
  options: {
    out: { type: 'string', default: fileURLToPath(new URL('../../settings/models', import.meta.url)) },
    'if-missing': { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const written = writeExamples(values.out!, positionals.length > 0 ? positionals : undefined, values['if-missing']);
if (written.length > 0) console.log(`tessera: generated example models ${written.join(', ')} in ${values.out}`);
