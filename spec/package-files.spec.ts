/**
 * What `npm pack` puts in the tarball, and whether the docs in it work there.
 *
 * The package has no repository URL, so npmjs.com cannot resolve a relative
 * link or image in the README, and a reader of the installed package has only
 * the tarball. So every relative link and image in a shipped .md file must
 * point to a file in the tarball (and an anchor to a heading of that file,
 * by GitHub's slug rules), and the README's picture is an absolute CDN URL of
 * this very version. Runs on the built dist/ (npm test builds first).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { ROOT } from './helpers/child';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/**
 * Written separately (install, compatibility, optional packages, footprint):
 * until it exists here, a link to it is accepted; once it exists, it is packed
 * and checked like every other file, and this entry can go.
 */
const AWAITED = new Set(['docs/install.md']);

/** Outside dist/: exactly these files ship (docs/ and examples/mount/ are read from disk). */
function expectedOutsideDist(): string[] {
  const dir = (d: string) => readdirSync(join(ROOT, d)).map(f => `${d}/${f}`);
  return [
    'package.json', 'README.md', 'BENCHMARKS.md', 'otel-collector.yaml',
    'examples/prometheus.yml', 'examples/alerts.yml', 'examples/alerts.test.yml', 'examples/grafana-dashboard.json',
    ...dir('examples/mount'),
    ...dir('docs'),
  ].sort();
}

const npmEnv = { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };

function npm(args: string[]) {
  const r = spawnSync('npm', args, { cwd: ROOT, encoding: 'utf8', env: npmEnv });
  expect(r.status, `npm ${args.join(' ')}: ${r.stderr}`).to.equal(0);
  return r;
}

interface Packed { files: string[]; size: number; unpackedSize: number }

function packed(json: string): Packed {
  const parsed = JSON.parse(json);
  const entry = Array.isArray(parsed) ? parsed[0] : parsed[pkg.name];
  return { files: entry.files.map((f: { path: string }) => f.path).sort(), size: entry.size, unpackedSize: entry.unpackedSize };
}

/** Fenced code blocks blanked out (line count kept), so nothing in them counts as a heading or link. */
function withoutFences(md: string): string {
  let fence: string | undefined;
  return md.split('\n').map(line => {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === undefined && m) {
      fence = m[1]!;
      return '';
    }
    if (fence !== undefined) {
      if (m && m[1]![0] === fence[0] && m[1]!.length >= fence.length) fence = undefined;
      return '';
    }
    return line;
  }).join('\n');
}

/** GitHub's heading ids (github-slugger): lowercase, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingSlugs(md: string): Set<string> {
  const seen = new Map<string, number>();
  const slugs = new Set<string>();
  for (const line of withoutFences(md).split('\n')) {
    const m = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (!m) continue;
    const text = m[1]!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')   // a link or image: its text
      .replace(/`/g, '')
      .replace(/\*+/g, '')
      .replace(/<[^>]+>/g, '');
    const base = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
    const n = seen.get(base);
    seen.set(base, (n ?? -1) + 1);
    slugs.add(n === undefined ? base : `${base}-${n + 1}`);
  }
  return slugs;
}

interface Link { target: string; image: boolean }

/** Inline links and images, autolinks, reference definitions and HTML src/href, outside code. */
export function linksOf(md: string): Link[] {
  const text = withoutFences(md).replace(/(`+)[\s\S]*?\1/g, 'code');
  const links: Link[] = [];
  for (const m of text.matchAll(/(!?)\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
    links.push({ target: m[2]!, image: m[1] === '!' });
  }
  for (const m of text.matchAll(/<((?:https?|mailto):[^>\s]+)>/g)) links.push({ target: m[1]!, image: false });
  for (const m of text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) links.push({ target: m[1]!, image: false });
  for (const m of text.matchAll(/<(img|a)\b[^>]*?\b(src|href)="([^"]+)"/g)) links.push({ target: m[3]!, image: m[1] === 'img' });
  return links;
}

/** https://unpkg.com/<name>@<version>/<path> or https://cdn.jsdelivr.net/npm/<name>@<version>/<path>. */
function cdnPath(url: string): { version: string; path: string } | undefined {
  const m = /^https:\/\/(?:unpkg\.com|cdn\.jsdelivr\.net\/npm)\/([^@/]+|@[^/]+\/[^@/]+)@([^/]+)\/(.*)$/.exec(url);
  if (!m || m[1] !== pkg.name) return undefined;
  return { version: m[2]!, path: m[3]! };
}

describe('the packed package (npm pack --dry-run)', function () {
  this.timeout(60_000);
  let pack: Packed;
  let files: Set<string>;

  before(() => {
    pack = packed(npm(['pack', '--dry-run', '--json', '--ignore-scripts']).stdout);
    files = new Set(pack.files);
  });

  const inTarball = (path: string) => files.has(path) || (path.endsWith('/') && pack.files.some(f => f.startsWith(path)))
    || pack.files.some(f => f.startsWith(`${path}/`));

  it('ships exactly README, docs/, BENCHMARKS.md, package.json, the operator files and the mount examples outside dist/', () => {
    expect(pack.files.filter(f => !f.startsWith('dist/'))).to.deep.equal(expectedOutsideDist());
  });

  it('ships no sources, specs, benchmarks, e2e, scripts, CI or the demo', () => {
    const forbidden = /^(lib|spec|bench|e2e|scripts|\.ci|node_modules|coverage)\/|^examples\/(demo\.js|gateway\/)|\.tgz$|^\.|\/\./;
    expect(pack.files.filter(f => forbidden.test(f))).to.deep.equal([]);
  });

  it('ships the build: a .js, .d.ts and .js.map for every lib/ module, the ESM wrappers, and every entry package.json names', () => {
    const dist = pack.files.filter(f => f.startsWith('dist/'));
    expect(dist.filter(f => !/\.(js|mjs|d\.ts|d\.mts|js\.map)$/.test(f)), 'only build output in dist/').to.deep.equal([]);
    const modules = readdirSync(join(ROOT, 'lib'), { recursive: true, encoding: 'utf8' })
      .filter(f => f.endsWith('.ts')).map(f => f.replaceAll('\\', '/').replace(/\.ts$/, ''));
    expect(modules.length).to.be.at.least(20);
    const missing = modules.flatMap(m => [`dist/${m}.js`, `dist/${m}.d.ts`, `dist/${m}.js.map`]).filter(f => !files.has(f));
    expect(missing).to.deep.equal([]);
    const entries: string[] = [pkg.main, pkg.types];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') entries.push(v);
      else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(pkg.exports);
    expect(entries.map(e => posix.normalize(e)).filter(e => !files.has(e))).to.deep.equal([]);
    for (const f of ['dist/index.mjs', 'dist/index.d.mts', 'dist/register.mjs', 'dist/register-entry.js']) expect(files.has(f), f).to.equal(true);
  });

  it('every relative link and image in a shipped .md file resolves inside the tarball, anchors to a heading of their file', () => {
    const slugsOf = new Map<string, Set<string>>();
    const slugs = (file: string) => {
      if (!slugsOf.has(file)) slugsOf.set(file, headingSlugs(readFileSync(join(ROOT, file), 'utf8')));
      return slugsOf.get(file)!;
    };
    const broken: string[] = [];
    let checked = 0;
    for (const file of pack.files.filter(f => f.endsWith('.md'))) {
      for (const { target, image } of linksOf(readFileSync(join(ROOT, file), 'utf8'))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;   // absolute: the next spec checks ours
        checked++;
        const [path, anchor] = target.split('#', 2) as [string, string | undefined];
        const resolved = path === '' ? file : posix.normalize(posix.join(posix.dirname(file), decodeURI(path)));
        const where = `${file}: ${target}`;
        if (resolved.startsWith('../') || resolved.startsWith('/')) broken.push(`${where} (outside the package)`);
        else if (AWAITED.has(resolved) && !files.has(resolved) && !existsSync(join(ROOT, resolved))) continue;
        else if (!inTarball(resolved)) broken.push(`${where} (not in the tarball)`);
        else if (image && !files.has(resolved)) broken.push(`${where} (an image that is not a file)`);
        else if (anchor !== undefined) {
          if (!resolved.endsWith('.md')) broken.push(`${where} (an anchor into a file that is not markdown)`);
          else if (!slugs(resolved).has(anchor)) broken.push(`${where} (no such heading in ${resolved})`);
        }
      }
    }
    expect(broken).to.deep.equal([]);
    expect(checked).to.be.at.least(80);
  });

  it('the README shows its images by absolute CDN URLs of this version, of files in the tarball; no other URL names another version', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const images = linksOf(readme).filter(l => l.image);
    expect(images.length).to.be.at.least(1);
    for (const { target } of images) {
      const cdn = cdnPath(target);
      expect(cdn, `${target}: npmjs.com shows no relative image in a package without a repository`).to.not.equal(undefined);
      expect(cdn!.version).to.equal(pkg.version);
      expect(inTarball(cdn!.path) && files.has(cdn!.path), cdn!.path).to.equal(true);
    }
    for (const file of pack.files.filter(f => f.endsWith('.md'))) {
      for (const { target } of linksOf(readFileSync(join(ROOT, file), 'utf8'))) {
        const cdn = cdnPath(target);
        if (cdn === undefined) continue;
        expect(cdn.version, `${file}: ${target}`).to.equal(pkg.version);
        expect(inTarball(cdn.path), `${file}: ${target}`).to.equal(true);
      }
    }
  });

  it('the README is a first read: at most 300 lines, the install line, `npm test`, and a link to every doc', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme.split('\n').length).to.be.at.most(300);
    expect(readme).to.include('npm install otel-gateway-metrics @opentelemetry/api');
    expect(readme).to.match(/^npm test\b/m);
    const linked = new Set(linksOf(readme).map(l => posix.normalize(l.target.split('#')[0]!)));
    const docs = pack.files.filter(f => /^docs\/[^/]+\.md$/.test(f));
    expect(docs.length).to.be.at.least(10);
    expect(docs.filter(d => !linked.has(d))).to.deep.equal([]);
  });

  it('`npm publish --dry-run` packs the same files and warns about nothing but the missing login', () => {
    // Offline, against an unreachable registry: nothing could be published by mistake, and npm's own
    // retries against a registry it cannot reach (a minute and more) are not waited for.
    const r = npm(['publish', '--dry-run', '--json', '--offline', '--ignore-scripts', '--registry=http://127.0.0.1:9/']);
    const warnings = r.stderr.split('\n').filter(l => /^npm (warn|WARN|err|ERR)/.test(l))
      .filter(l => !/requires you to be logged in to .* \(dry-run\)$/.test(l));
    expect(warnings).to.deep.equal([]);
    expect(packed(r.stdout).files).to.deep.equal(pack.files);
  });
});

describe('the markdown link reader', () => {
  it('reads GitHub heading slugs, with repeats numbered and code, links and punctuation dropped', () => {
    const s = headingSlugs([
      '# /metrics on your own server', "## Beside the app's own OpenTelemetry SDK", '## Node 22 and `fetch`', '## Works with',
      '## Works with', '```', '# not a heading', '```', '### [Linked](x.md) *heading*', '## MCP calls (JSON-RPC over stdio)',
    ].join('\n'));
    expect([...s]).to.deep.equal([
      'metrics-on-your-own-server', 'beside-the-apps-own-opentelemetry-sdk', 'node-22-and-fetch', 'works-with', 'works-with-1',
      'linked-heading', 'mcp-calls-json-rpc-over-stdio',
    ]);
  });

  it('finds links and images, not what is inside code', () => {
    const links = linksOf([
      'See [a](a.md#x) and ![pic](p.png "t") and <https://example.org/x>.', '`[not](code.md)`', '```', '[not](fence.md)', '```',
      '[ref]: ref.md', '<img src="i.png">', '[`code` text](c.md)',
    ].join('\n'));
    expect(links).to.deep.equal([
      { target: 'a.md#x', image: false }, { target: 'p.png', image: true }, { target: 'c.md', image: false },
      { target: 'https://example.org/x', image: false }, { target: 'ref.md', image: false }, { target: 'i.png', image: true },
    ]);
  });
});
