// The app's module worker: the same computation as the page, off the main thread.
import { Xent } from 'xent-wasm';
import { compute } from './compute.mjs';

self.onmessage = async (e) => {
  try {
    self.postMessage({ result: await compute({ Xent }, e.data) });
  } catch (err) {
    self.postMessage({ error: `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}` });
  }
};
