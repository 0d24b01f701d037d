/** Freezes a value and everything in it, so a test proves `decide` and `evolve` never mutate their input. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}
