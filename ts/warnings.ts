/**
 * Warnings: what `Xent.create` and a running instance report when they fall back (no threads,
 * no relaxed SIMD, a worker thread that died), and where they go: `options.onWarning`, or
 * `console.warn` once per process for each code.
 * @module
 */

/**
 * What a warning is about:
 *
 * - `'threads-fallback'`: `threads` > 1 was asked for, but the instance runs on one thread
 *   (no shared memory or workers here, no threads build, the workers could not start).
 * - `'relaxed-fallback'`: `relaxed: true` was asked for, but the instance runs the normal build
 *   (no relaxed SIMD in this engine, `xent-wasm/inline`, `threads` > 1, the build failed to load).
 * - `'worker-failed'`: a worker thread of a running instance failed; the instance continues on
 *   one thread.
 */
export type XentWarningCode = 'threads-fallback' | 'relaxed-fallback' | 'worker-failed';

/** A warning, as {@link XentOptions.onWarning} receives it. */
export interface XentWarning {
  /** What it is about (stable: switch on this, not on the message). */
  readonly code: XentWarningCode;
  /** Why, in English, without the `xent-wasm: ` prefix that `console.warn` gets. */
  readonly message: string;
}

/** @internal Where one instance's warnings go (made by {@link warningSink}). */
export type WarningSink = (code: XentWarningCode, message: string) => void;

const warned = new Set<XentWarningCode>();

function reportAsync(e: unknown): void {
  // As an event listener's exception: reported, without breaking the code that warned.
  const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (typeof report === 'function') report(e);
  else
    queueMicrotask(() => {
      throw e;
    });
}

/**
 * @internal The sink for `options.onWarning`: a function gets every warning of its instance
 * (exceptions it throws are reported as uncaught, asynchronously); `null` drops them;
 * `undefined` (the default) prints each code once per process, or page, with `console.warn`.
 */
export function warningSink(onWarning: ((warning: XentWarning) => void) | null | undefined): WarningSink {
  if (onWarning === null) return () => undefined;
  if (onWarning === undefined) {
    return (code, message) => {
      if (warned.has(code)) return;
      warned.add(code);
      console.warn(`xent-wasm: ${message}`);
    };
  }
  return (code, message) => {
    try {
      onWarning(Object.freeze({ code, message }));
    } catch (e) {
      reportAsync(e);
    }
  };
}
