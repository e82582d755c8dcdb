// The browser test's module worker: the same computation as the page, off the main thread.
import * as lib from '/dist/index.mjs';
import { compute } from './compute.mjs';

self.onmessage = async (e) => {
  try {
    self.postMessage({ result: await compute(lib, e.data) });
  } catch (err) {
    self.postMessage({ error: `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}` });
  }
};
