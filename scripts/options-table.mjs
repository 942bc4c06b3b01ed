// The "Options and environment variables" table of docs/options.md, from the one
// option table in lib/config/options.ts (run `npm run build` first). Prints it;
// with --write, replaces the generated block in docs/options.md. The spec
// spec/options-table.spec.ts fails when the copy in docs/options.md differs.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { optionTableMarkdown } = require('../dist/config/options.js');
const table = optionTableMarkdown();

if (process.argv.includes('--write')) {
  const file = fileURLToPath(new URL('../docs/options.md', import.meta.url));
  const doc = readFileSync(file, 'utf8');
  const block = /(<!-- options-table:[^\n]*-->\n)[\s\S]*?(\n<!-- \/options-table -->)/;
  if (!block.test(doc)) {
    console.error('docs/options.md has no <!-- options-table --> block');
    process.exit(1);
  }
  writeFileSync(file, doc.replace(block, (_, open, close) => `${open}${table}${close}`));
  console.log('docs/options.md: options table written');
} else {
  console.log(table);
}
