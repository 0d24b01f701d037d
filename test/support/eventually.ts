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
