// Prints the README's "Options and environment variables" table from the one
// option table in lib/config/options.ts (run `npm run build` first). The spec
// spec/options-table.spec.ts fails when the README's copy differs.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { optionTableMarkdown } = require('../dist/config/options.js');
console.log(optionTableMarkdown());
