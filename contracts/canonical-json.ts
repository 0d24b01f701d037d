import canonicalize from 'canonicalize';

/**
 * RFC 8785 (JSON Canonicalization Scheme) serialization: sorted keys, ECMAScript number
 * formatting, minimal string escaping. Every hash and signature in Proofline is computed over
 * these bytes (UTF-8), so two implementations that agree on RFC 8785 agree on every hash.
 *
 * Precondition: `value` holds only JSON values (no undefined, functions, bigint or NaN).
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) {
    throw new TypeError('canonicalJson: the value has no JSON representation');
  }
  return text;
}
