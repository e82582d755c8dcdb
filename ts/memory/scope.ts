/**
 * `xent.scope(fn)` and `xent.keep(t)`: the tensors an instance creates while `fn` runs are
 * tracked, and those `fn` neither returns nor keeps are disposed when it returns or throws.
 * @module
 */

import { XentOptionError } from '../errors.js';
import { describeValue } from './dtype.js';
import { Tensor, tensorInternals } from './tensor.js';

/** True for a promise or any other thenable. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * The tensors in `value` that a scope returns, and so does not dispose: `value` itself if it is
 * a tensor, and, recursively, the elements of arrays and the own enumerable data properties of
 * plain objects (whose prototype is `Object.prototype` or `null`). Nothing else is looked into
 * (Maps, Sets, class instances); getters are not called.
 */
function returnedTensors(value: unknown, found: Set<Tensor>, seen: Set<object>): void {
  if (value instanceof Tensor) {
    found.add(value);
    return;
  }
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    for (const v of value) returnedTensors(v, found, seen);
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return;
  for (const d of Object.values(Object.getOwnPropertyDescriptors(value))) {
    if (d.enumerable && 'value' in d) returnedTensors(d.value, found, seen);
  }
}

/** @internal The scopes of one instance: a stack of the tensors each open scope tracks. */
export class Scopes {
  readonly #stack: Set<Tensor>[] = [];

  /** Tracks a new tensor in the innermost open scope (if any). */
  track(t: Tensor): void {
    this.#stack.at(-1)?.add(t);
  }

  /** Stops tracking `t` (disposed, or kept): no scope will dispose it. */
  forget(t: Tensor): void {
    for (const s of this.#stack) s.delete(t);
  }

  /** Runs `fn` in a new scope (see `Xent.scope`). */
  run<T>(fn: () => T): T {
    if (typeof fn !== 'function') {
      throw new XentOptionError(`scope: fn must be a function, got ${describeValue(fn)}`);
    }
    const tracked = new Set<Tensor>();
    this.#stack.push(tracked);
    let result: T;
    const kept = new Set<Tensor>();
    try {
      result = fn();
      if (isThenable(result)) {
        // The error below reports it; the abandoned promise's own rejection (e.g. a tensor
        // this scope disposed) would only repeat it as an unhandled rejection.
        result.then(undefined, () => undefined);
        throw new XentOptionError(
          'scope: fn returned a promise, but a scope cannot follow an async function past its first await (the ' +
            'tensors created inside the scope have been disposed): use a scope around the synchronous parts, or ' +
            'try/finally with dispose() around an await',
        );
      }
      returnedTensors(result, kept, new Set());
    } catch (e) {
      // fn threw, returned a promise, or returned something that throws when looked into (a
      // revoked Proxy): nothing is returned.
      this.#end(tracked, undefined);
      throw e;
    }
    this.#end(tracked, kept);
    return result;
  }

  /**
   * Closes the innermost scope, `tracked`: disposes its tensors except `returned` ones, which
   * the enclosing scope (if any) now tracks.
   */
  #end(tracked: Set<Tensor>, returned: Set<Tensor> | undefined): void {
    // Closed in order: the scope that ends is the innermost one (fn ran synchronously).
    this.#stack.pop();
    const parent = this.#stack.at(-1);
    for (const t of tracked) {
      if (returned?.has(t)) parent?.add(t);
      else if (!tensorInternals(t).disposed) t.dispose();
    }
  }
}
