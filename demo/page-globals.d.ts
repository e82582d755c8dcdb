// What demo/app.mjs leaves on the page for the browser tests (test/browser/) to read.
interface Window {
  __demo?: unknown;
  __demoAll?: unknown;
}
