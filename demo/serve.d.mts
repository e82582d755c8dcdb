// Types of demo/serve.mjs (for the TypeScript tests that import it).
import type { Server } from 'node:http';

/** The repository root (the parent of demo/). */
export const ROOT: string;
/** Content types by file extension. */
export const MIME: Readonly<Record<string, string>>;
/** COOP + COEP: the headers that make a page cross-origin isolated (lower-case names). */
export const ISOLATION_HEADERS: Readonly<Record<string, string>>;
/** Starts serving `root` on `host:port` (port 0 = any free port); `isolate` adds ISOLATION_HEADERS to every response. */
export function startServer(options?: {
  root?: string;
  host?: string;
  port?: number;
  log?: boolean;
  isolate?: boolean;
}): Promise<{
  /** The base URL, ending in '/'. */
  url: string;
  server: Server;
  close(): Promise<void>;
}>;
