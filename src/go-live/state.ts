import type { AlertSeverity, GoLiveEvent } from './events';

export type GoLiveState = {
  readonly live: boolean;
  /** Open alerts by id. */
  readonly openAlerts: Readonly<Record<string, AlertSeverity>>;
  readonly knownAlerts: readonly string[];
  /** Live, but stopped by an open critical alert. */
  readonly billingSuspended: boolean;
  readonly billingTimeZone: string;
};

export const DEFAULT_BILLING_TIME_ZONE = 'UTC';

export const initialGoLiveState: GoLiveState = { live: false, openAlerts: {}, knownAlerts: [], billingSuspended: false, billingTimeZone: DEFAULT_BILLING_TIME_ZONE };

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
    case 'go-live.billing-time-zone-set':
      return { ...state, billingTimeZone: event.data.timeZone };
    case 'go-live.billing-suspended':
      return { ...state, billingSuspended: true };
    case 'go-live.billing-resumed':
      return { ...state, billingSuspended: false };
    default: {
      const unknownEvent: never = event;
      return unknownEvent;
    }
  }
}
