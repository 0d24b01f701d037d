import type { JsonObject, JsonValue } from '../../contracts';
import { rejected } from '../errors/proofline-error';
import { firstSecret } from './decide-secrets';
import { SETUP_STEPS, type SetupCheck, type SetupEvent, type SetupStep } from './events';
import { stepDone, type SetupState } from './state';

export type RecordSetupStep = { readonly type: 'RecordSetupStep'; readonly step: SetupStep; readonly configuration: JsonObject };
export type SetupCommand = RecordSetupStep;

/** The minimum measured accuracy the testing step must show. */
export const TESTING_MIN_ACCURACY = 0.85;
/** The fewest samples a testing step may rest on: one matched sample is not 100 % accuracy. */
export const TESTING_MIN_SAMPLES = 100;

/**
 * A step may be recorded once every step before it has passed and none of them went stale (an
 * earlier step recorded again makes the later ones stale: they must be recorded again); its checks run here, and the
 * attempt is recorded with them whether it passed or not. A configuration holding a secret is
 * refused before anything is recorded: the event is signed, kept forever and exported.
 */
export function decideSetup(command: SetupCommand, state: SetupState): SetupEvent[] {
  const earlier = SETUP_STEPS.slice(0, SETUP_STEPS.indexOf(command.step));
  const missing = earlier.filter((step) => !stepDone(state, step));
  if (missing.length > 0) {
    throw rejected.conflict('SETUP.STEP_OUT_OF_ORDER', `${command.step} comes after ${missing.join(', ')}, which ${missing.length === 1 ? 'has' : 'have'} not passed yet (or went stale)`, {
      step: command.step,
      missingSteps: missing,
    });
  }
  const secret = firstSecret(command.configuration);
  if (secret) {
    throw rejected.unprocessable('SETUP.SECRET_IN_CONFIGURATION', `configuration.${secret.message}`, { fields: [{ ...secret, field: `configuration.${secret.field}` }] });
  }
  const checks = CHECKS[command.step](command.configuration);
  return [{ type: 'setup.step-recorded', data: { step: command.step, configuration: command.configuration, passed: checks.every((check) => check.passed), checks } }];
}

const CHECKS: Record<SetupStep, (configuration: JsonObject) => SetupCheck[]> = {
  API_INTEGRATION: (c) => [
    check('endpoint-https', typeof c.endpointUrl === 'string' && /^https:\/\/[^\s/]+/.test(c.endpointUrl), 'endpointUrl is an https:// URL'),
    check('auth-type', c.authType === 'api-key' || c.authType === 'oauth2', 'authType is api-key or oauth2'),
  ],
  DATA_SOURCE: (c) => [
    check('kind', typeof c.kind === 'string' && ['postgres', 'bigquery', 's3', 'api'].includes(c.kind), 'kind is postgres, bigquery, s3 or api'),
    check('connection-name', typeof c.connectionName === 'string' && c.connectionName.trim().length > 0, 'connectionName names the connection'),
  ],
  METRICS_CONFIGURATION: (c) => [
    check(
      'field-mappings',
      Array.isArray(c.fieldMappings) && c.fieldMappings.length > 0 && c.fieldMappings.every((m: JsonValue) => isObject(m) && typeof m.source === 'string' && typeof m.metric === 'string'),
      'fieldMappings lists at least one {source, metric}',
    ),
  ],
  BASELINE: (c) => [
    check('period', typeof c.periodStart === 'string' && typeof c.periodEnd === 'string' && isDate(c.periodStart) && isDate(c.periodEnd) && c.periodStart < c.periodEnd, 'periodStart is before periodEnd (ISO-8601 dates)'),
    check('value', Number.isInteger(c.value) && (c.value as number) >= 0, 'value is a whole number ≥ 0'),
  ],
  TESTING: (c) => {
    const sample = c.sampleSize;
    const matched = c.matchedSamples;
    const counted = Number.isInteger(sample) && Number.isInteger(matched) && (sample as number) >= TESTING_MIN_SAMPLES && (matched as number) >= 0 && (matched as number) <= (sample as number);
    return [
      check('sample', counted, `sampleSize ≥ ${TESTING_MIN_SAMPLES} and 0 ≤ matchedSamples ≤ sampleSize`),
      check('accuracy', counted && (matched as number) / (sample as number) >= TESTING_MIN_ACCURACY, `matchedSamples / sampleSize is at least ${TESTING_MIN_ACCURACY * 100} %`),
    ];
  },
};

function check(name: string, passed: boolean, rule: string): SetupCheck {
  return { check: name, passed, message: passed ? `ok: ${rule}` : `failed: ${rule}` };
}

function isObject(value: JsonValue): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A real calendar date (Date.parse would roll 2025-02-30 over into March). */
function isDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(Date.parse(value))) return false;
  return new Date(`${value.slice(0, 10)}T00:00:00Z`).toISOString().slice(0, 10) === value.slice(0, 10);
}
