import type { SetupEvent, SetupStep } from './events';

/** Per step, whether its latest attempt passed. */
export type SetupState = { readonly steps: Readonly<Partial<Record<SetupStep, boolean>>> };

export const initialSetupState: SetupState = { steps: {} };

export function evolveSetup(state: SetupState, event: SetupEvent): SetupState {
  return { steps: { ...state.steps, [event.data.step]: event.data.passed } };
}
