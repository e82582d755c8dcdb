// vite-node config of the bits digest: test/reference/dist.ts (imported by the fuzz case generator)
// registers vitest hooks when loaded, which throws outside a vitest run; here they are no-ops.
import { fileURLToPath } from 'node:url';

export default {
  resolve: { alias: { vitest: fileURLToPath(new URL('./vitest-stub.mjs', import.meta.url)) } },
};
