// Types of demo/serve.mjs (for the TypeScript tests that import it).
import type { Server } from 'node:http';

/** The repository root (the parent of demo/). */
export const ROOT: string;
/** Content types by file extension. */
export const MIME: Readonly<Record<string, string>>;
/** Starts serving `root` on `host:port` (port 0 = any free port). */
export function startServer(options?: { root?: string; host?: string; port?: number; log?: boolean }): Promise<{
  /** The base URL, ending in '/'. */
  url: string;
  server: Server;
  close(): Promise<void>;
}>;
