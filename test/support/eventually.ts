/** Polls `probe` until `accept` holds or the time is up, and returns the last value either way (the assertion that follows says what was wrong). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function eventually<T = any>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Waits until `condition` holds, or throws naming `what` when `timeoutMs` has passed (for steps a test cannot go on without). */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
