/** Teardown's retry schedule, for both provisioners. */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Retried<T> = { ok: true; value: T; attempts: number } | { ok: false; error: unknown; attempts: number };

/**
 * Runs `once` until it succeeds, fails in a way `transient` does not forgive, or the next wait
 * would pass `budgetMs`; waits double from `firstDelayMs` up to `maxDelayMs`. Never throws.
 */
export async function retryTransient<T>(
  once: () => Promise<T>,
  opts: { budgetMs: number; firstDelayMs: number; maxDelayMs: number; transient: (err: unknown) => boolean },
): Promise<Retried<T>> {
  const deadline = Date.now() + opts.budgetMs;
  let delay = opts.firstDelayMs;
  for (let attempts = 1; ; attempts++) {
    try {
      return { ok: true, value: await once(), attempts };
    } catch (error) {
      if (!opts.transient(error) || Date.now() + delay >= deadline) return { ok: false, error, attempts };
      await sleep(delay);
      delay = Math.min(delay * 2, opts.maxDelayMs);
    }
  }
}
