import { SECURITY_EVENT_TYPES } from '../src/auth/security-log';
import { WORKSPACE_EVENT_TYPES } from '../src/workspaces/events';
import { defineProjector } from './runtime/projector';

/**
 * Events per tenant, event type and day: the dashboards' activity view, and the projection
 * whose sums must equal the stream (the fan-out tests count on it). Aggregated per batch, so
 * one upsert serves many events.
 */
export const tenantActivityProjector = defineProjector({
  name: 'tenant_activity',
  handles: [...WORKSPACE_EVENT_TYPES, ...SECURITY_EVENT_TYPES],
  onFailure: 'skip',
  tables: {
    daily: (table) => {
      table.text('tenant_id').notNullable();
      table.text('event_type').notNullable();
      table.text('day').notNullable();
      table.bigInteger('events').notNullable();
      table.text('last_occurred_at').notNullable();
      table.primary(['tenant_id', 'event_type', 'day']);
    },
  },
  async apply(events, { trx, tables }) {
    const rows = new Map<string, { tenant_id: string; event_type: string; day: string; events: number; last_occurred_at: string }>();
    for (const { envelope } of events) {
      const day = envelope.occurredAt.slice(0, 10);
      const key = `${envelope.tenantId}\u0000${envelope.type}\u0000${day}`;
      const row = rows.get(key) ?? { tenant_id: envelope.tenantId, event_type: envelope.type, day, events: 0, last_occurred_at: envelope.occurredAt };
      row.events += 1;
      if (envelope.occurredAt > row.last_occurred_at) row.last_occurred_at = envelope.occurredAt;
      rows.set(key, row);
    }
    if (rows.size === 0) return;
    await trx(tables.daily)
      .insert([...rows.values()])
      .onConflict(['tenant_id', 'event_type', 'day'])
      .merge({
        events: trx.raw('??.events + EXCLUDED.events', [tables.daily]),
        last_occurred_at: trx.raw('greatest(??.last_occurred_at, EXCLUDED.last_occurred_at)', [tables.daily]),
      });
  },
});
