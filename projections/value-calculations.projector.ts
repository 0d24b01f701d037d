import { VALUE_CALCULATION_EVENT_TYPES } from '../src/value-calculations/events';
import { defineProjector } from './runtime/projector';

/** One row per measured period: what was measured, priced at what, how accurately, from where. */
export const valueCalculationsProjector = defineProjector({
  name: 'value_calculations',
  handles: VALUE_CALCULATION_EVENT_TYPES,
  onFailure: 'stop',
  tables: {
    calculations: (table) => {
      table.text('calculation_id').primary();
      table.text('tenant_id').notNullable();
      table.text('definition_id').notNullable();
      table.text('period_start').notNullable();
      table.text('period_end').notNullable();
      table.bigInteger('quantity').notNullable();
      table.bigInteger('amount_minor').notNullable();
      table.text('currency').notNullable();
      table.integer('accuracy_basis_points').notNullable();
      table.text('source').notNullable();
      table.text('recorded_at').notNullable();
      table.index(['tenant_id', 'period_end']);
    },
  },
  async apply(events, { trx, tables }) {
    const rows = events.map(({ envelope }) => {
      const data = envelope.data as Record<string, string | number>;
      return {
        calculation_id: data.calculationId,
        tenant_id: envelope.tenantId,
        definition_id: data.definitionId,
        period_start: data.periodStart,
        period_end: data.periodEnd,
        quantity: data.quantity,
        amount_minor: data.amountMinor,
        currency: data.currency,
        accuracy_basis_points: data.accuracyBasisPoints,
        source: data.source,
        recorded_at: envelope.occurredAt,
      };
    });
    if (rows.length > 0) await trx(tables.calculations).insert(rows);
  },
});
