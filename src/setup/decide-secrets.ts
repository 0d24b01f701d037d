import type { JsonObject, JsonValue } from '../../contracts';

/**
 * Field names that name a secret. A setup step records configuration in a signed, immutable,
 * exported event: a secret written there can never be taken back. Such a field must hold a
 * reference to where the secret is kept (a name ending in `Ref`), never the secret.
 */
const SECRET_FIELD = /(secret|passw(or)?d|passphrase|token|api[-_]?key|private[-_]?key|access[-_]?key|credential|authorization|client[-_]?secret|signature)/i;

/** Values that are secrets whatever their field is called: well-known key formats. */
const SECRET_VALUE: ReadonlyArray<readonly [string, RegExp]> = [
  ['private-key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['stripe-key', /\b(sk|rk)_(live|test)_[A-Za-z0-9]{8,}/],
  ['aws-access-key', /\b(AKIA|ASIA)[0-9A-Z]{16}\b/],
  ['github-token', /\bgh[pousr]_[A-Za-z0-9]{20,}/],
  ['slack-token', /\bxox[abprs]-[A-Za-z0-9-]{10,}/],
  ['jwt', /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/],
  ['bearer-credential', /^\s*(Bearer|Basic)\s+\S{8,}/i],
  ['url-with-password', /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i],
];

export interface SecretFound {
  readonly field: string;
  readonly rule: 'no-secret-field' | 'no-secret-value';
  readonly message: string;
}

/** The first field of a configuration that holds a secret (by its name or its value), walked without recursion. */
export function firstSecret(configuration: JsonObject): SecretFound | undefined {
  const pending: Array<{ value: JsonValue; path: string; key: string }> = Object.entries(configuration)
    .reverse()
    .map(([key, value]) => ({ value, path: key, key }));
  while (pending.length > 0) {
    const { value, path, key } = pending.pop()!;
    if (typeof value === 'string') {
      if (SECRET_FIELD.test(key) && !/Ref$/.test(key) && value.length > 0) {
        return { field: path, rule: 'no-secret-field', message: `${path} looks like a secret; keep it outside Proofline and give a reference instead (for example ${key}Ref: "vault://…")` };
      }
      const format = SECRET_VALUE.find(([, pattern]) => pattern.test(value));
      if (format) return { field: path, rule: 'no-secret-value', message: `${path} holds what looks like a ${format[0]}; keep it outside Proofline and give a reference instead` };
    } else if (value !== null && typeof value === 'object') {
      const children = Array.isArray(value) ? value.map((item, index) => [String(index), item] as const) : Object.entries(value);
      for (let index = children.length - 1; index >= 0; index -= 1) {
        const [childKey, item] = children[index];
        // An array's items are judged by the array's field name.
        pending.push({ value: item, path: `${path}.${childKey}`, key: Array.isArray(value) ? key : childKey });
      }
    }
  }
  return undefined;
}
