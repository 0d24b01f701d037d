import { rejected } from '../errors/proofline-error';
import type { ValueCalculationEvent } from './events';
import type { ValueCalculationState } from './state';

/**
 * `definition` is the value definition as the handler found it (status, price, currency): a
 * calculation is priced by an approved definition and records the price it used.
 */
export type RecordValueCalculation = {
  readonly type: 'RecordValueCalculation';
  readonly calculationId: string;
  readonly definition: { readonly definitionId: string; readonly status: string; readonly unitPriceMinor: number; readonly currency: string };
  readonly periodStart: string;
  readonly periodEnd: string;
  readonly quantity: number;
  readonly amountMinor: number;
  readonly accuracyBasisPoints: number;
  readonly source: string;
};

export type ValueCalculationCommand = RecordValueCalculation;

export function decideValueCalculation(command: ValueCalculationCommand, state: ValueCalculationState): ValueCalculationEvent[] {
  const { definition } = command;
  if (definition.status !== 'approved') {
    throw rejected.conflict('VALUE_CALCULATION.DEFINITION_NOT_APPROVED', `value is calculated only for an approved definition; this one is ${definition.status}`, { status: definition.status });
  }
  if (command.periodStart >= command.periodEnd) {
    throw rejected.unprocessable('VALUE_CALCULATION.EMPTY_PERIOD', `periodStart (${command.periodStart}) must be before periodEnd (${command.periodEnd})`, { field: 'periodEnd' });
  }
  const overlapping = state.periods.find((period) => command.periodStart < period.end && period.start < command.periodEnd);
  if (overlapping) {
    throw rejected.conflict('VALUE_CALCULATION.PERIOD_OVERLAP', `the period overlaps calculation ${overlapping.calculationId} (${overlapping.start} – ${overlapping.end})`, {
      calculationId: overlapping.calculationId,
    });
  }
  const expected = command.quantity * definition.unitPriceMinor;
  if (command.amountMinor !== expected) {
    throw rejected.unprocessable('VALUE_CALCULATION.AMOUNT_MISMATCH', `amountMinor must be quantity × unit price: ${command.quantity} × ${definition.unitPriceMinor} = ${expected}, not ${command.amountMinor}`, {
      field: 'amountMinor',
      expected,
    });
  }
  return [
    {
      type: 'value-calculations.recorded',
      data: {
        calculationId: command.calculationId,
        definitionId: definition.definitionId,
        periodStart: command.periodStart,
        periodEnd: command.periodEnd,
        quantity: command.quantity,
        amountMinor: command.amountMinor,
        currency: definition.currency,
        accuracyBasisPoints: command.accuracyBasisPoints,
        source: command.source,
      },
    },
  ];
}
