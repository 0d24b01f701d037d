import Ajv2020, { type ErrorObject } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import envelopeSchema from './schemas/event-envelope.v1.schema.json';

export type ShapeValidation = { readonly valid: true } | { readonly valid: false; readonly errors: string[] };

// Compiled once at load: compiling generates code and is far slower than validating.
// allErrors stays off (Ajv's advice for untrusted input), so a bad envelope reports its first fault.
const ajv = new Ajv2020({ strict: true });
addFormats(ajv, ['date-time']);
const validate = ajv.compile(envelopeSchema);

/**
 * Checks an envelope's shape against contracts/schemas/event-envelope.v1.schema.json. Shape only:
 * whether dataHash and signature are right is EventSigner.verify's job.
 */
export function validateEnvelopeShape(value: unknown): ShapeValidation {
  if (validate(value)) return { valid: true };
  return { valid: false, errors: (validate.errors ?? []).map(describe) };
}

// Ajv's message for an unexpected key does not say which key; callers need it to fix the producer.
function describe(error: ErrorObject): string {
  const at = error.instancePath === '' ? '(root)' : error.instancePath;
  if (error.keyword === 'additionalProperties') {
    return `${at} must not have property '${(error.params as { additionalProperty: string }).additionalProperty}'`;
  }
  return `${at} ${error.message ?? error.keyword}`;
}
