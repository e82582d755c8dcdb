// Stands in for vitest when scripts/bits-digest/digest.ts loads the test helpers (see vite.config.mjs).
export function beforeAll() {}
export function afterAll() {}
