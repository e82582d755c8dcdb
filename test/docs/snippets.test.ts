/**
 * Docs that run: every JavaScript or TypeScript code block in README.md and docs/*.md is marked,
 * on the line before its fence, either `<!-- test: esm -->`, `<!-- test: cjs -->`,
 * `<!-- test: ts -->` (run here) or `<!-- not run: why -->` (a fragment or a config file).
 *
 * A marked block is written, as it is in the doc, into a folder of the temporary project where
 * the packed tarball is installed with TF.js (test/package/install.ts: `npm pack`, then
 * `npm install <tarball>`, once per test run, shared with test/package/package.test.ts): what
 * resolves is the installed package, as after `npm i xent-wasm`. That folder also gets
 * `@types/node` (linked to the repository's), as a user's Node project in TypeScript has it.
 * Then:
 *   - esm: run with node as `<name>.mjs`; cjs: as `<name>.cjs`;
 *   - ts: type-checked by a strict `tsc` (module node16, `lib: ES2022, DOM, ESNext.Disposable`, the
 *     shipped .d.mts checked too), emitted, and the output run with node.
 * What it prints (stdout, line by line) must equal the `// prints: ...` comments of the block,
 * in order. The seed example's printed loss must be PyTorch's value from
 * test/fixtures/cross_entropy_index.json (case "seed"), and the logits in the docs the fixture's.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { installedPackage, run as runIn } from '../package/install.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

type Kind = 'esm' | 'cjs' | 'ts';
interface Snippet {
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  kind: Kind;
  code: string;
  /** The `// prints: ...` comments, in order. */
  prints: string[];
}
interface Unmarked {
  doc: string;
  line: number;
  lang: string;
}

const CODE_LANGS = new Set(['js', 'javascript', 'mjs', 'cjs', 'ts', 'typescript', 'mts', 'cts']);

/** The fenced blocks of a Markdown file (indented fences too, as in list items). */
function extract(doc: string): { snippets: Snippet[]; unmarked: Unmarked[] } {
  const lines = readFileSync(join(ROOT, doc), 'utf8').split('\n');
  const snippets: Snippet[] = [];
  const unmarked: Unmarked[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const lang = open[2]!;
    let end = i + 1;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) end++;
    const body = lines.slice(i + 1, end).map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)));
    let prev = i - 1;
    while (prev >= 0 && lines[prev]!.trim() === '') prev--;
    const marker = prev >= 0 ? /^\s*<!--\s*(test:\s*(esm|cjs|ts)|not run:[^>]*)\s*-->\s*$/.exec(lines[prev]!) : null;
    if (CODE_LANGS.has(lang)) {
      if (!marker) unmarked.push({ doc, line: i + 1, lang });
      else if (marker[2]) {
        const code = `${body.join('\n')}\n`;
        const prints = [...code.matchAll(/\/\/ prints: (.*)$/gm)].map((m) => m[1]!.trim());
        snippets.push({ doc, line: i + 1, kind: marker[2] as Kind, code, prints });
      }
    }
    i = end;
  }
  return { snippets, unmarked };
}

const extracted = DOCS.map(extract);
const SNIPPETS = extracted.flatMap((e) => e.snippets);
const UNMARKED = extracted.flatMap((e) => e.unmarked);

interface FixtureCase {
  name: string;
  logits: number[];
  target: number[];
  loss: number;
}
const SEED = (
  JSON.parse(readFileSync(join(ROOT, 'test/fixtures/cross_entropy_index.json'), 'utf8')) as { cases: FixtureCase[] }
).cases.find((c) => c.name === 'seed');
if (!SEED) throw new Error('test/fixtures/cross_entropy_index.json has no case "seed"');

/** The snippets' folder, in the project where the tarball is installed. */
let project: string;

/** Runs a command in the snippets' folder; on failure, throws with its stdout and stderr. */
const run = (cmd: string, args: string[], timeout = 120_000) => runIn(cmd, args, project, timeout);

const fileName = (s: Snippet) => `${s.doc.replace(/[/.]/g, '_')}_${s.line}`;

beforeAll(async () => {
  // xent-wasm and TF.js resolve from the installed project's node_modules, one folder up.
  project = join((await installedPackage()).project, 'docs-snippets');
  mkdirSync(join(project, 'node_modules/@types'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules/@types/node'), join(project, 'node_modules/@types/node'), 'dir');
  const ts = SNIPPETS.filter((s) => s.kind === 'ts');
  for (const s of ts) writeFileSync(join(project, `${fileName(s)}.mts`), s.code);
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'ES2022',
        module: 'node16',
        moduleResolution: 'node16',
        lib: ['ES2022', 'DOM', 'ESNext.Disposable'],
        skipLibCheck: false,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        outDir: 'out',
      },
      files: ts.map((s) => `${fileName(s)}.mts`),
    }),
  );
  if (ts.length > 0) await run(process.execPath, [TSC, '-p', 'tsconfig.json'], 300_000);
}, 600_000);

describe('the docs', () => {
  it('run against the installed tarball: xent-wasm resolves to a copy in the project, not to this repository', () => {
    const installed = join(project, '..', 'node_modules/xent-wasm');
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(realpathSync(installed).startsWith(realpathSync(ROOT))).toBe(false);
    expect(existsSync(join(installed, 'dist/index.mjs'))).toBe(true);
    // What the tarball does not ship (npm pack's files list) is not there.
    expect(existsSync(join(installed, 'ts'))).toBe(false);
  });

  it('mark every JavaScript or TypeScript block: <!-- test: esm|cjs|ts --> or <!-- not run: why -->', () => {
    expect(UNMARKED).toEqual([]);
  });

  it('have runnable blocks in the README, in ESM, CommonJS and TypeScript', () => {
    const kinds = new Set(SNIPPETS.filter((s) => s.doc === 'README.md').map((s) => s.kind));
    expect([...kinds].sort()).toEqual(['cjs', 'esm', 'ts']);
    for (const s of SNIPPETS) expect(s.prints.length, `${s.doc}:${s.line} has no "// prints:"`).toBeGreaterThan(0);
  });

  it('the README stays under 250 lines', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length).toBeLessThan(250);
  });

  it("the seed example's numbers are PyTorch's: its logits and targets, and the loss 1.0066", () => {
    const seedLogits = SEED.logits.map((v) => String(Math.round(v * 100) / 100)).join(', ');
    expect(SEED.logits).toEqual(SEED.logits.map((v) => Math.fround(Math.round(v * 100) / 100)));
    const loss = SEED.loss.toFixed(4);
    expect(loss).toBe('1.0066');
    // Blocks with the seed's logits and its target compute its loss, and print PyTorch's value.
    const seeded = SNIPPETS.filter((s) => s.code.includes(seedLogits) && s.code.includes(SEED.target.join(', ')));
    expect(seeded.filter((s) => s.doc === 'README.md').length).toBeGreaterThanOrEqual(3);
    for (const s of seeded) {
      expect(
        s.prints.some((p) => p.split(' ').includes(loss)),
        `${s.doc}:${s.line} prints the seed loss`,
      ).toBe(true);
    }
  });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/ /g, '-');

describe('the links between the docs', () => {
  const pages = [...DOCS, 'bench/README.md', 'demo/README.md'];
  const anchors = (file: string) =>
    new Set(
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .filter((l) => /^#{1,6} /.test(l))
        .map((l) => slug(l.replace(/^#+ /, ''))),
    );
  it.each(pages)('%s: every relative link names a file that exists, and a heading in it', (page) => {
    const text = readFileSync(join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
    const bad: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [path, hash] = target!.split('#') as [string, string | undefined];
      const file = path === '' ? page : join(page, '..', path);
      if (!existsSync(join(ROOT, file))) bad.push(`${target}: no file ${file}`);
      else if (hash !== undefined && file.endsWith('.md') && !anchors(file).has(hash))
        bad.push(`${target}: no heading #${hash} in ${file}`);
    }
    expect(bad).toEqual([]);
  });
});

describe.each(SNIPPETS.map((s) => [`${s.doc}:${s.line} (${s.kind})`, s] as const))('%s', (_, s) => {
  it('runs as pasted and prints what the doc says', async () => {
    let file: string;
    if (s.kind === 'ts') file = join('out', `${fileName(s)}.mjs`);
    else {
      file = `${fileName(s)}.${s.kind === 'esm' ? 'mjs' : 'cjs'}`;
      writeFileSync(join(project, file), s.code);
    }
    const out = await run(process.execPath, [file]);
    expect(out.trimEnd().split('\n')).toEqual(s.prints);
  });
});
