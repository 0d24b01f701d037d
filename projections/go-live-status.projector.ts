import { GO_LIVE_EVENT_TYPES } from '../src/go-live/events';
import { SETUP_EVENT_TYPES, SETUP_STEPS } from '../src/setup/events';
import { defineProjector } from './runtime/projector';

/** Per tenant: setup progress, open alerts and whether value-based billing is live. */
export const goLiveStatusProjector = defineProjector({
  name: 'go_live_status',
  handles: [...SETUP_EVENT_TYPES, ...GO_LIVE_EVENT_TYPES],
  onFailure: 'stop',
  tables: {
    tenants: (table) => {
      table.text('tenant_id').primary();
      table.text('steps_passed').notNullable();
      table.integer('open_critical_alerts').notNullable();
      table.integer('open_alerts').notNullable();
      table.text('open_alert_ids').notNullable();
      table.text('live_since');
      table.text('updated_at').notNullable();
    },
  },
  async apply(events, { trx, tables }) {
    for (const { envelope } of events) {
      const current = (await trx(tables.tenants).where({ tenant_id: envelope.tenantId }).first()) ?? {
        tenant_id: envelope.tenantId,
        steps_passed: '{}',
        open_critical_alerts: 0,
        open_alerts: 0,
        open_alert_ids: '{}',
        live_since: null,
      };
      const steps = JSON.parse(current.steps_passed) as Record<string, boolean>;
      const alerts = JSON.parse(current.open_alert_ids) as Record<string, string>;
      const data = envelope.data as Record<string, string | boolean>;
      let liveSince: string | null = current.live_since;
      if (envelope.type === 'setup.step-recorded') steps[String(data.step)] = Boolean(data.passed);
      if (envelope.type === 'go-live.alert-raised') alerts[String(data.alertId)] = String(data.severity);
      if (envelope.type === 'go-live.alert-resolved') delete alerts[String(data.alertId)];
      if (envelope.type === 'go-live.activated') liveSince = envelope.occurredAt;
      const ordered = Object.fromEntries(SETUP_STEPS.filter((step) => step in steps).map((step) => [step, steps[step]]));
      const sortedAlerts = Object.fromEntries(Object.entries(alerts).sort(([a], [b]) => a.localeCompare(b)));
      await trx(tables.tenants)
        .insert({
          tenant_id: envelope.tenantId,
          steps_passed: JSON.stringify(ordered),
          open_critical_alerts: Object.values(alerts).filter((severity) => severity === 'critical').length,
          open_alerts: Object.keys(alerts).length,
          open_alert_ids: JSON.stringify(sortedAlerts),
          live_since: liveSince,
          updated_at: envelope.occurredAt,
        })
        .onConflict('tenant_id')
        .merge();
    }
  },
});
