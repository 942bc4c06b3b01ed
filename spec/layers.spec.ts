/**
 * The folders of lib/ import one way: a lower layer never imports a higher
 * one (core and config are the bottom; the protocols sit under the transports
 * that feed them; sdk/ puts everything together). Read from the sources'
 * import statements, type-only imports included.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/child';

/** What each folder may import from (besides itself and lib/types.ts). */
const ALLOWED: Record<string, readonly string[]> = {
  core: ['config'],
  config: ['core'],
  store: ['core'],
  protocols: ['core', 'config'],
  paths: ['core', 'config', 'protocols'],
  export: ['core', 'config', 'store', 'protocols'],
  // The per-host view of a multi-process gateway: the workers' stores, served by export/.
  cluster: ['core', 'store', 'export'],
  sdk: ['core', 'config', 'store', 'protocols', 'paths', 'export', 'cluster'],
};

describe('layers of lib/', () => {
  for (const [folder, allowed] of Object.entries(ALLOWED)) {
    it(`${folder}/ imports only from ${allowed.join(', ')}`, () => {
      const dir = join(ROOT, 'lib', folder);
      const wrong: string[] = [];
      for (const file of readdirSync(dir).filter(f => f.endsWith('.ts'))) {
        const source = readFileSync(join(dir, file), 'utf8');
        for (const m of source.matchAll(/from '\.\.\/([a-z-]+)/g)) {
          const target = m[1]!;
          if (target !== 'types' && !allowed.includes(target)) wrong.push(`${folder}/${file} → ${target}/`);
        }
      }
      expect(wrong).to.deep.equal([]);
    });
  }
  it('every folder of lib/ has its row', () => {
    const folders = readdirSync(join(ROOT, 'lib'), { withFileTypes: true }).filter(d => d.isDirectory()).map(d => d.name).sort();
    expect(folders).to.deep.equal(Object.keys(ALLOWED).sort());
  });
});
