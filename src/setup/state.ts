import { SETUP_STEPS, type SetupEvent, type SetupStep } from './events';

/** A step's latest attempt: whether it passed, and whether an earlier step was recorded again since (stale). */
export type StepState = { readonly passed: boolean; readonly stale: boolean };

export type SetupBaseline = { readonly value: number; readonly periodStart: string; readonly periodEnd: string };

export type SetupState = {
  readonly steps: Readonly<Partial<Record<SetupStep, StepState>>>;
  /** The configuration of the latest BASELINE attempt that passed. */
  readonly baseline: SetupBaseline | null;
};

export const initialSetupState: SetupState = { steps: {}, baseline: null };

/** Recording a step again makes every later step stale: it was checked against what came before. */
export function evolveSetup(state: SetupState, event: SetupEvent): SetupState {
  const later = SETUP_STEPS.slice(SETUP_STEPS.indexOf(event.data.step) + 1);
  const steps: Partial<Record<SetupStep, StepState>> = { ...state.steps, [event.data.step]: { passed: event.data.passed, stale: false } };
  for (const step of later) {
    const current = steps[step];
    if (current) steps[step] = { ...current, stale: true };
  }
  const { configuration } = event.data;
  const baseline =
    event.data.step === 'BASELINE' ? (event.data.passed ? { value: Number(configuration.value), periodStart: String(configuration.periodStart), periodEnd: String(configuration.periodEnd) } : null) : state.baseline;
  return { steps, baseline };
}

/** Passed and not stale. */
export function stepDone(state: SetupState, step: SetupStep): boolean {
  const current = state.steps[step];
  return current !== undefined && current.passed && !current.stale;
}
