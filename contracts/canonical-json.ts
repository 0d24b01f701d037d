import canonicalize from 'canonicalize';

/**
 * RFC 8785 (JSON Canonicalization Scheme) serialization: sorted keys, ECMAScript number
 * formatting, minimal string escaping. Every hash and signature in Proofline is computed over
 * these bytes (UTF-8), so two implementations that agree on RFC 8785 agree on every hash.
 *
 * Precondition: `value` holds only JSON values (no undefined, functions, bigint or NaN).
 * Throws on a lone surrogate in any string or key (RFC 8785 §3.2.2.2), which has no UTF-8 form.
 */
export function canonicalJson(value: unknown): string {
  assertWellFormedStrings(value);
  const text = canonicalize(value);
  if (text === undefined) {
    throw new TypeError('canonicalJson: the value has no JSON representation');
  }
  return text;
}

function assertWellFormedStrings(value: unknown): void {
  if (typeof value === 'string') {
    if (!value.isWellFormed()) throw new TypeError(`canonicalJson: lone surrogate in string ${JSON.stringify(value)}`);
  } else if (Array.isArray(value)) {
    for (const item of value) assertWellFormedStrings(item);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      assertWellFormedStrings(key);
      assertWellFormedStrings(item);
    }
  }
}
