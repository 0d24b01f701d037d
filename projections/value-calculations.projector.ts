import { VALUE_CALCULATION_EVENT_TYPES } from '../src/value-calculations/events';
import { defineProjector } from './runtime/projector';

/**
 * One row per calculation, corrections and voided ones included (history keeps both): what was
 * measured, priced at what, from how many samples, and whether it still counts (`RECORDED`) or was
 * `VOIDED` or `SUPERSEDED` by a correction. Named `_v2` since the columns changed: a new name
 * builds from the first event on its own, with nothing to migrate.
 */
export const valueCalculationsProjector = defineProjector({
  name: 'value_calculations_v2',
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
      table.integer('sample_size');
      table.integer('matched_samples');
      table.integer('accuracy_basis_points').notNullable();
      table.text('source').notNullable();
      table.text('status').notNullable();
      table.text('adjusts');
      table.text('superseded_by');
      table.text('adjust_reason');
      table.text('void_reason');
      table.text('recorded_at').notNullable();
      table.text('status_changed_at').notNullable();
      table.index(['tenant_id', 'period_end', 'calculation_id']);
    },
  },
  async apply(events, { trx, tables }) {
    for (const { envelope } of events) {
      const data = envelope.data as Record<string, string | number | null>;
      if (envelope.type === 'value-calculations.voided') {
        await trx(tables.calculations).where({ calculation_id: data.calculationId }).update({ status: 'VOIDED', void_reason: data.reason, status_changed_at: envelope.occurredAt });
        continue;
      }
      const adjusts = envelope.type === 'value-calculations.adjusted' ? String(data.adjusts) : null;
      if (adjusts) await trx(tables.calculations).where({ calculation_id: adjusts }).update({ status: 'SUPERSEDED', superseded_by: data.calculationId, status_changed_at: envelope.occurredAt });
      await trx(tables.calculations).insert({
        calculation_id: data.calculationId,
        tenant_id: envelope.tenantId,
        definition_id: data.definitionId,
        period_start: data.periodStart,
        period_end: data.periodEnd,
        quantity: data.quantity,
        amount_minor: data.amountMinor,
        currency: data.currency,
        sample_size: data.sampleSize ?? null,
        matched_samples: data.matchedSamples ?? null,
        accuracy_basis_points: data.accuracyBasisPoints,
        source: data.source,
        status: 'RECORDED',
        adjusts,
        superseded_by: null,
        adjust_reason: adjusts ? data.reason : null,
        void_reason: null,
        recorded_at: envelope.occurredAt,
        status_changed_at: envelope.occurredAt,
      });
    }
  },
});
