/**
 * The message of anything thrown, for wrapping it in a message of our own. A module of its own
 * because the worker entry uses it too and must not pull in the error classes.
 * @module
 */

/** @internal `e.message` for an Error, else `String(e)`. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
