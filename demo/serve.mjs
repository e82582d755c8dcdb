#!/usr/bin/env node
// A tiny static file server for the demo and the browser tests (node:http, no dependencies).
//
//   node demo/serve.mjs [--port 8080] [--host 127.0.0.1] [--isolate] [--log]
//
// serves the repository root, so that the demo page (/demo/) loads the built package from
// /dist/index.mjs exactly as a user's page would: an ES module, no bundler, and the .wasm
// beside it fetched with new URL('./xent-simd.wasm', import.meta.url). Run `npm run build`
// first. With --isolate every response carries COOP/COEP (ISOLATION_HEADERS), so that pages are
// cross-origin isolated: SharedArrayBuffer, and so xent-wasm's worker threads, are available
// (the demo then scores with 2 threads and says so). Imported by test/browser/*.test.ts as
// `startServer()`.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** The repository root (the parent of demo/). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Content types by extension; WebAssembly.compileStreaming needs exactly application/wasm. */
export const MIME = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.bin': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
});

/**
 * The headers that make a page cross-origin isolated (`crossOriginIsolated === true`), which
 * browsers require before they give it SharedArrayBuffer (and so a shared WebAssembly.Memory).
 */
export const ISOLATION_HEADERS = Object.freeze({
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
});

/**
 * Starts serving `root` on `host:port` (port 0 = any free port); `isolate` adds
 * ISOLATION_HEADERS to every response.
 * @returns the base URL (ending in '/'), the server, and `close()`.
 */
export async function startServer({ root = ROOT, host = '127.0.0.1', port = 0, log = false, isolate = false } = {}) {
  const base = resolve(root);
  const server = createServer(async (req, res) => {
    if (isolate) for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    const send = (code, text) => {
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(text);
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
      const url = new URL(req.url ?? '/', 'http://localhost');
      let path;
      try {
        path = decodeURIComponent(url.pathname);
      } catch {
        return send(400, 'bad path\n');
      }
      if (path.includes('\0')) return send(400, 'bad path\n');
      let file = resolve(base, `.${path}`);
      // Nothing outside the root (no ../ escapes), and no dotfiles (.git, ...).
      if ((file !== base && !file.startsWith(base + sep)) || /[\\/]\./.test(file.slice(base.length)))
        return send(404, 'not found\n');
      let st = await stat(file).catch(() => undefined);
      if (st?.isDirectory()) {
        if (!path.endsWith('/')) {
          res.writeHead(301, { location: `${url.pathname}/${url.search}` });
          return res.end();
        }
        file = resolve(file, 'index.html');
        st = await stat(file).catch(() => undefined);
      }
      if (!st?.isFile()) return send(404, `not found: ${path}\n`);
      const type = MIME[extname(file).toLowerCase()] ?? 'application/octet-stream';
      res.writeHead(200, { 'content-type': type, 'content-length': st.size, 'cache-control': 'no-store' });
      if (log) console.log(`${req.method} ${path} -> ${type}`);
      if (req.method === 'HEAD') return res.end();
      createReadStream(file)
        .on('error', () => res.destroy())
        .pipe(res);
    } catch (e) {
      send(500, `${e instanceof Error ? e.message : String(e)}\n`);
    }
  });
  await /** @type {Promise<void>} */ (
    new Promise((ok, fail) => {
      server.once('error', fail);
      server.listen(port, host, ok);
    })
  );
  const addr = /** @type {import('node:net').AddressInfo} */ (server.address()); // a TCP server's
  const url = `http://${host}:${addr.port}/`;
  return {
    url,
    server,
    close: () =>
      /** @type {Promise<void>} */ (
        new Promise((ok) => {
          server.closeAllConnections?.();
          server.close(() => ok());
        })
      ),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const USAGE = [
    'usage: node demo/serve.mjs [--port 8080] [--host 127.0.0.1] [--isolate] [--log]',
    '  --port N     port (0: any free port; default 8080)',
    '  --host H     address to listen on (default 127.0.0.1)',
    '  --isolate    send Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:',
    '               require-corp, so that pages are cross-origin isolated and xent-wasm can use',
    '               worker threads (the demo then scores with 2 threads)',
    '  --log        log every request',
    '  -h, --help   this help',
  ].join('\n');
  /** @param {string} message @returns {never} */
  const usageError = (message) => {
    console.error(`serve: ${message}\n\n${USAGE}`);
    process.exit(2);
  };
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        log: { type: 'boolean', default: false },
        isolate: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    usageError(e instanceof Error ? e.message : String(e));
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usageError(`--port must be 0..65535, got ${values.port}`);
  const { existsSync } = await import('node:fs');
  if (!existsSync(resolve(ROOT, 'dist/index.mjs'))) {
    console.error('serve: dist/index.mjs is missing: run `npm run build` first');
    process.exit(1);
  }
  const { url } = await startServer({ host: values.host, port, log: values.log, isolate: values.isolate });
  const how = values.isolate
    ? 'cross-origin isolated (COOP/COEP): worker threads available'
    : 'not cross-origin isolated (--isolate for worker threads)';
  console.log(`serving ${ROOT} at ${url}, ${how}\n  demo: ${url}demo/`);
}
