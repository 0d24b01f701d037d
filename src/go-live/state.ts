import type { AlertSeverity, GoLiveEvent } from './events';

export type GoLiveState = {
  readonly live: boolean;
  /** Open alerts by id. */
  readonly openAlerts: Readonly<Record<string, AlertSeverity>>;
  readonly knownAlerts: readonly string[];
};

export const initialGoLiveState: GoLiveState = { live: false, openAlerts: {}, knownAlerts: [] };

export function evolveGoLive(state: GoLiveState, event: GoLiveEvent): GoLiveState {
  switch (event.type) {
    case 'go-live.alert-raised':
      return { ...state, openAlerts: { ...state.openAlerts, [event.data.alertId]: event.data.severity }, knownAlerts: [...state.knownAlerts, event.data.alertId] };
    case 'go-live.alert-resolved': {
      const { [event.data.alertId]: _resolved, ...openAlerts } = state.openAlerts;
      return { ...state, openAlerts };
    }
    case 'go-live.activated':
      return { ...state, live: true };
    default: {
      const unknownEvent: never = event;
      return unknownEvent;
    }
  }
}
