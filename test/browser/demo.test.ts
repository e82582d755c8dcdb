/**
 * The demo's pieces that need no browser: the committed samples are what
 * demo/make-samples.mjs generates (and stay small), its PNGs (fast-png) round-trip, the PNG mask
 * recipe (demo/png-mask.mjs, quoted in demo/README.md) reads a sample's mask into a uint8 tensor
 * exactly, and demo/serve.mjs serves the right content types and nothing outside the repository.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decode as decodePng } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLASSES, IGNORE, SAMPLES, encodePng, makeSample, sampleFiles } from '../../demo/make-samples.mjs';
import { readMask } from '../../demo/png-mask.mjs';
import { ISOLATION_HEADERS, startServer } from '../../demo/serve.mjs';
import { runNode } from '../reference/child.js';
import { lib } from '../reference/dist.js';

const SAMPLES_DIR = new URL('../../demo/samples/', import.meta.url);

describe('demo samples', () => {
  it('the committed files are exactly what make-samples.mjs generates, under 1 MB in all', () => {
    const files = sampleFiles();
    const committed = readdirSync(SAMPLES_DIR).sort();
    expect(committed).toEqual(Object.keys(files).sort());
    let total = 0;
    for (const [name, bytes] of Object.entries(files)) {
      const disk = readFileSync(new URL(name, SAMPLES_DIR));
      total += statSync(new URL(name, SAMPLES_DIR)).size;
      expect(
        Buffer.compare(disk, Buffer.from(bytes)),
        `demo/samples/${name} differs from the generator: run node demo/make-samples.mjs`,
      ).toBe(0);
    }
    expect(total).toBeLessThan(1 << 20);
  });

  it('the PNGs decode to the generator’s pixels (image, and the mask of class ids)', () => {
    const s = SAMPLES[0]!;
    const m = makeSample(s.seed);
    const img = decodePng(readFileSync(new URL(`${s.id}.png`, SAMPLES_DIR)));
    expect([img.width, img.height, img.channels]).toEqual([m.width, m.height, 3]);
    expect(Buffer.compare(Buffer.from(img.data), Buffer.from(m.rgb))).toBe(0);
    const mask = decodePng(readFileSync(new URL(`${s.id}.mask.png`, SAMPLES_DIR)));
    expect(mask.channels).toBe(1);
    expect(Buffer.compare(Buffer.from(mask.data), Buffer.from(m.mask))).toBe(0);
    const ids = new Set(mask.data);
    for (const v of ids) expect(v === IGNORE || v < CLASSES.length).toBe(true);
    expect(ids.has(IGNORE)).toBe(true); // some void pixels, to exercise ignoreIndex
    expect(m.logits.length).toBe(CLASSES.length * m.width * m.height);
  });

  it('encodePng round-trips odd sizes', () => {
    const px = Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 37) & 0xff);
    const d = decodePng(encodePng(5, 3, 3, px));
    expect([d.width, d.height, d.channels, d.depth]).toEqual([5, 3, 3, 8]);
    expect(Array.from(d.data)).toEqual(Array.from(px));
    expect(() => encodePng(2, 2, 1, new Uint8Array(3))).toThrow(/length/);
  });
});

describe('the PNG mask recipe (demo/png-mask.mjs)', () => {
  const RECIPE = fileURLToPath(new URL('../../demo/png-mask.mjs', import.meta.url));

  it('is quoted verbatim in demo/README.md', () => {
    const readme = readFileSync(new URL('../../demo/README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`\`\`\`js\n${readFileSync(RECIPE, 'utf8')}\`\`\``);
  });

  it('readMask decodes each sample’s mask PNG into a uint8 tensor equal to the generator’s mask', async () => {
    const xent = await lib.Xent.create();
    try {
      for (const s of SAMPLES) {
        const m = makeSample(s.seed);
        const mask = readMask(xent, fileURLToPath(new URL(`${s.id}.mask.png`, SAMPLES_DIR)));
        try {
          expect(mask.dtype).toBe('uint8');
          expect(mask.shape).toEqual([1, m.height, m.width]);
          expect(Buffer.compare(Buffer.from(mask.data), Buffer.from(m.mask)), s.id).toBe(0);
        } finally {
          mask.dispose();
        }
      }
      // Not a mask: an RGB image is refused with what it is.
      expect(() => readMask(xent, fileURLToPath(new URL(`${SAMPLES[0]!.id}.png`, SAMPLES_DIR)))).toThrow(
        /need an 8-bit gray or palette PNG, got 3 channel\(s\) of 8 bits/,
      );
      expect(xent.memoryStats().liveTensors).toBe(0);
    } finally {
      xent.dispose();
    }
  });

  it('runs as a script: the loss of a sample’s logits against its mask, as Node computes on the generator’s data', async () => {
    const s = SAMPLES[0]!;
    const { stdout: out } = await promisify(execFile)(
      process.execPath,
      [RECIPE, `demo/samples/${s.id}.mask.png`, `demo/samples/${s.id}.logits.bin`],
      { cwd: fileURLToPath(new URL('../../', import.meta.url)), encoding: 'utf8' },
    );
    const m = makeSample(s.seed);
    const xent = await lib.Xent.create();
    try {
      const r = xent.crossEntropy(
        { data: m.logits, shape: [1, CLASSES.length, m.height, m.width] },
        { data: m.mask, shape: [1, m.height, m.width] },
        { ignoreIndex: IGNORE },
      );
      expect(out.trim()).toBe(
        `demo/samples/${s.id}.mask.png: ${m.width}×${m.height}, ${r.weightSum} pixels scored, mean loss ${r.loss}`,
      );
    } finally {
      xent.dispose();
    }
  });
});

describe('demo/serve.mjs', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });
  const get = (path: string) => fetch(new URL(path, server.url), { redirect: 'manual' });

  it('serves the package and the demo with the right content types', async () => {
    const cases: [string, string][] = [
      ['dist/xent-simd.wasm', 'application/wasm'],
      ['dist/xent.wasm', 'application/wasm'],
      ['dist/index.mjs', 'text/javascript; charset=utf-8'],
      ['demo/', 'text/html; charset=utf-8'],
      ['demo/app.mjs', 'text/javascript; charset=utf-8'],
      ['demo/samples/samples.json', 'application/json; charset=utf-8'],
      ['demo/samples/street-1.png', 'image/png'],
      ['demo/samples/street-1.logits.bin', 'application/octet-stream'],
    ];
    for (const [path, type] of cases) {
      const r = await get(path);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type'), path).toBe(type);
      await r.arrayBuffer();
    }
    const wasm = new Uint8Array(await (await get('dist/xent.wasm')).arrayBuffer());
    expect(Buffer.compare(Buffer.from(wasm), readFileSync(new URL('../../dist/xent.wasm', import.meta.url)))).toBe(0);
  });

  it('redirects a directory without its slash, 404s the rest, and never leaves the root', async () => {
    const r = await get('demo');
    expect(r.status).toBe(301);
    expect(r.headers.get('location')).toBe('/demo/');
    for (const path of [
      'nope.html',
      '%2e%2e/%2e%2e/etc/passwd',
      '..%2f..%2fetc/passwd',
      '.git/config',
      'demo/.hidden',
      '%00',
    ]) {
      const res = await get(path);
      expect([400, 404], path).toContain(res.status);
      await res.text();
    }
    const post = await fetch(new URL('demo/', server.url), { method: 'POST' });
    expect(post.status).toBe(405);
    await post.text();
  });
});

describe('demo/serve.mjs --isolate', () => {
  const SERVE = fileURLToPath(new URL('../../demo/serve.mjs', import.meta.url));

  it('--help lists --isolate; an unknown flag is an error', async () => {
    const help = await runNode([SERVE, '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(
      /--isolate +send Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:/,
    );
    const bad = await runNode([SERVE, '--isolated']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^serve: Unknown option '--isolated'/);
  });

  it('startServer({ isolate: true }) sends COOP/COEP on every response (200, 301, 404); without it, none', async () => {
    expect(ISOLATION_HEADERS).toEqual({
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    });
    for (const isolate of [true, false]) {
      const s = await startServer({ isolate });
      try {
        for (const path of ['demo/', 'demo/worker.mjs', 'dist/xent-simd-threads.wasm', 'demo', 'nope']) {
          const r = await fetch(new URL(path, s.url), { redirect: 'manual' });
          await r.arrayBuffer();
          for (const [k, v] of Object.entries(ISOLATION_HEADERS))
            expect(r.headers.get(k), `${path} ${k}`).toBe(isolate ? v : null);
        }
      } finally {
        await s.close();
      }
    }
  });

  it('node demo/serve.mjs --isolate --port 0 serves with the headers and says so', async () => {
    const child = spawn(process.execPath, [SERVE, '--isolate', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let out = '';
      const url = await new Promise<string>((ok, fail) => {
        child.stdout.on('data', (d) => {
          out += d;
          const m = /demo: (http:\/\/\S+)/.exec(out);
          if (m) ok(m[1]!);
        });
        child.on('exit', (code) => fail(new Error(`serve.mjs exited (${code}): ${out}`)));
      });
      expect(out).toContain('cross-origin isolated (COOP/COEP): worker threads available');
      const r = await fetch(url);
      await r.text();
      expect(r.status).toBe(200);
      expect(r.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect(r.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    } finally {
      child.kill();
    }
  });
});
