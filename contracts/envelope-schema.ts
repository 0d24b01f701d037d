import Ajv2020, { type ErrorObject } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import envelopeSchemaV1 from './schemas/event-envelope.v1.schema.json';
import envelopeSchemaV2 from './schemas/event-envelope.v2.schema.json';

export type ShapeValidation = { readonly valid: true } | { readonly valid: false; readonly errors: string[] };

// Compiled once at load: compiling generates code and is far slower than validating.
// allErrors stays off (Ajv's advice for untrusted input), so a bad envelope reports its first fault.
const ajv = new Ajv2020({ strict: true });
addFormats(ajv, ['date-time']);
const validateV1 = ajv.compile(envelopeSchemaV1);
const validateV2 = ajv.compile(envelopeSchemaV2);

/**
 * Checks an envelope's shape against contracts/schemas/event-envelope.v2.schema.json when its
 * signature block has a `purpose` member, else against event-envelope.v1.schema.json (events
 * stored before v2 keep their bytes). The version is told by a member that a v2 signature covers.
 * Shape only: whether dataHash and signature are right is EventSigner.verify's job.
 */
export function validateEnvelopeShape(value: unknown): ShapeValidation {
  const validate = declaresV2(value) ? validateV2 : validateV1;
  if (validate(value)) return { valid: true };
  return { valid: false, errors: (validate.errors ?? []).map(describe) };
}

function declaresV2(value: unknown): boolean {
  const signature = (value as { metadata?: { signature?: unknown } } | null)?.metadata?.signature;
  return typeof signature === 'object' && signature !== null && Object.prototype.hasOwnProperty.call(signature, 'purpose');
}

// Ajv's message for an unexpected key does not say which key; callers need it to fix the producer.
function describe(error: ErrorObject): string {
  const at = error.instancePath === '' ? '(root)' : error.instancePath;
  if (error.keyword === 'additionalProperties') {
    return `${at} must not have property '${(error.params as { additionalProperty: string }).additionalProperty}'`;
  }
  return `${at} ${error.message ?? error.keyword}`;
}
