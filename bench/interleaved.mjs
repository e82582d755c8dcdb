// Shared by the side benchmarks (threads.mjs, score.mjs, confident.mjs): timing several calls in
// interleaved rounds.

/**
 * Times each config's `f` (synchronous or returning a promise) in interleaved rounds, one call
 * of each per round after two warm-up rounds, so that drift on a shared machine hits them all
 * alike; each round starts one config further on, so that none always runs first (right after
 * the last one's worker threads, say). Returns the configs with `min` and `median` (ms) over
 * `reps` rounds.
 */
export async function timeInterleaved(configs, reps) {
  const ts = configs.map(() => []);
  for (let round = -2; round < reps; round++) {
    for (let k = 0; k < configs.length; k++) {
      const i = (k + Math.max(round, 0)) % configs.length;
      const t0 = performance.now();
      await configs[i].f();
      if (round >= 0) ts[i].push(performance.now() - t0);
    }
  }
  return configs.map((c, i) => {
    const s = ts[i].sort((a, b) => a - b);
    return { ...c, min: s[0], median: s[s.length >> 1] };
  });
}
