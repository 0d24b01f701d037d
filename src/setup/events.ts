import type { DomainEvent } from '../commands/decider';
import type { JsonObject } from '../../contracts';

/** The five setup steps, in the order they are done. */
export const SETUP_STEPS = ['API_INTEGRATION', 'DATA_SOURCE', 'METRICS_CONFIGURATION', 'BASELINE', 'TESTING'] as const;
export type SetupStep = (typeof SETUP_STEPS)[number];

export type SetupCheck = { check: string; passed: boolean; message: string };

/** A step's configuration and its validation result; a failed attempt is recorded too. */
export type SetupStepRecorded = DomainEvent<'setup.step-recorded', { step: SetupStep; configuration: JsonObject; passed: boolean; checks: SetupCheck[] }>;

export type SetupEvent = SetupStepRecorded;

export const SETUP_SCHEMA_VERSIONS: Record<SetupEvent['type'], number> = { 'setup.step-recorded': 1 };
export const SETUP_EVENT_TYPES = Object.keys(SETUP_SCHEMA_VERSIONS) as ReadonlyArray<SetupEvent['type']>;
