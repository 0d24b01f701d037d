import { rejected } from '../errors/proofline-error';
import { accuracyBasisPoints } from './decide-accuracy';
import type { MeasuredPeriod, ValueCalculationEvent } from './events';
import { isLocalMidnight } from './decide-time-zone';
import type { ValueCalculationState } from './state';

/**
 * What the handler found before deciding: the definition (status, price, currency, and when its
 * approval completed), the tenant's billing time zone and the time of the request. `decide`
 * reads no clock: `now` comes in with the command.
 */
export type CalculationContext = {
  readonly definition: { readonly definitionId: string; readonly status: string; readonly unitPriceMinor: number; readonly currency: string; readonly approvedAt: string | null };
  readonly billingTimeZone: string;
  readonly now: string;
};

/** One measured period: the quantity and the samples that measured it (periods are UTC instants, `toISOString`). */
export type Measurement = {
  readonly periodStart: string;
  readonly periodEnd: string;
  readonly quantity: number;
  readonly amountMinor: number;
  readonly sampleSize: number;
  readonly matchedSamples: number;
  readonly source: string;
};

export type RecordValueCalculation = CalculationContext & Measurement & { readonly type: 'RecordValueCalculation'; readonly calculationId: string };
/** A correction of `adjusts`: a new calculation takes its place (its period may differ). */
export type AdjustValueCalculation = CalculationContext & Measurement & { readonly type: 'AdjustValueCalculation'; readonly calculationId: string; readonly adjusts: string; readonly reason: string };
export type VoidValueCalculation = { readonly type: 'VoidValueCalculation'; readonly definitionId: string; readonly calculationId: string; readonly reason: string };

export type ValueCalculationCommand = RecordValueCalculation | AdjustValueCalculation | VoidValueCalculation;

export function decideValueCalculation(command: ValueCalculationCommand, state: ValueCalculationState): ValueCalculationEvent[] {
  switch (command.type) {
    case 'RecordValueCalculation':
      return [{ type: 'value-calculations.recorded', data: measured(command, state, null) }];
    case 'AdjustValueCalculation': {
      counting(state, command.adjusts);
      return [{ type: 'value-calculations.adjusted', data: { ...measured(command, state, command.adjusts), adjusts: command.adjusts, reason: command.reason } }];
    }
    case 'VoidValueCalculation':
      counting(state, command.calculationId);
      return [{ type: 'value-calculations.voided', data: { calculationId: command.calculationId, definitionId: command.definitionId, reason: command.reason } }];
    default: {
      const unknownCommand: never = command;
      return unknownCommand;
    }
  }
}

/** The calculation must exist and still count (not voided, not already corrected). */
function counting(state: ValueCalculationState, calculationId: string): void {
  const found = state.periods.find((period) => period.calculationId === calculationId);
  if (!found) throw rejected.notFound('VALUE_CALCULATION.NOT_FOUND', `no calculation ${calculationId} for this definition`, { calculationId });
  if (found.status === 'VOIDED') throw rejected.conflict('VALUE_CALCULATION.VOIDED', `calculation ${calculationId} was voided; it cannot be corrected or voided again`, { calculationId });
  if (found.status === 'SUPERSEDED') {
    throw rejected.conflict('VALUE_CALCULATION.SUPERSEDED', `calculation ${calculationId} was corrected by ${found.supersededBy}; correct or void that one`, { calculationId, supersededBy: found.supersededBy });
  }
}

function measured(command: RecordValueCalculation | AdjustValueCalculation, state: ValueCalculationState, replacing: string | null): MeasuredPeriod {
  const { definition } = command;
  if (definition.status !== 'approved') {
    throw rejected.conflict('VALUE_CALCULATION.DEFINITION_NOT_APPROVED', `value is calculated only for an approved definition; this one is ${definition.status}`, { status: definition.status });
  }
  if (command.periodStart >= command.periodEnd) {
    throw rejected.unprocessable('VALUE_CALCULATION.EMPTY_PERIOD', `periodStart (${command.periodStart}) must be before periodEnd (${command.periodEnd})`, { field: 'periodEnd' });
  }
  for (const field of ['periodStart', 'periodEnd'] as const) {
    if (!isLocalMidnight(command[field], command.billingTimeZone)) {
      throw rejected.unprocessable('VALUE_CALCULATION.PERIOD_NOT_AT_MIDNIGHT', `${field} (${command[field]}) must be 00:00 in the billing time zone ${command.billingTimeZone}`, {
        field,
        rule: 'midnight-in-billing-time-zone',
        billingTimeZone: command.billingTimeZone,
      });
    }
  }
  if (command.periodEnd > command.now) {
    throw rejected.unprocessable('VALUE_CALCULATION.PERIOD_NOT_ENDED', `periodEnd (${command.periodEnd}) is after now (${command.now}): only periods that have ended are measured`, { field: 'periodEnd', rule: 'not-in-future' });
  }
  if (definition.approvedAt === null || command.periodStart < definition.approvedAt) {
    throw rejected.conflict('VALUE_CALCULATION.PERIOD_BEFORE_APPROVAL', `periodStart (${command.periodStart}) is before the definition's approval (${definition.approvedAt ?? 'none'})`, {
      field: 'periodStart',
      rule: 'not-before-approval',
      approvedAt: definition.approvedAt,
    });
  }
  const overlapping = state.periods.find((period) => period.status === 'RECORDED' && period.calculationId !== replacing && command.periodStart < period.end && period.start < command.periodEnd);
  if (overlapping) {
    throw rejected.conflict('VALUE_CALCULATION.PERIOD_OVERLAP', `the period overlaps calculation ${overlapping.calculationId} (${overlapping.start} – ${overlapping.end})`, {
      calculationId: overlapping.calculationId,
    });
  }
  if (command.matchedSamples > command.sampleSize) {
    throw rejected.unprocessable('VALUE_CALCULATION.SAMPLES_INCONSISTENT', `matchedSamples (${command.matchedSamples}) cannot exceed sampleSize (${command.sampleSize})`, { field: 'matchedSamples', rule: 'at-most-sample-size' });
  }
  const expected = command.quantity * definition.unitPriceMinor;
  if (command.amountMinor !== expected) {
    throw rejected.unprocessable('VALUE_CALCULATION.AMOUNT_MISMATCH', `amountMinor must be quantity × unit price: ${command.quantity} × ${definition.unitPriceMinor} = ${expected}, not ${command.amountMinor}`, {
      field: 'amountMinor',
      expected,
    });
  }
  return {
    calculationId: command.calculationId,
    definitionId: definition.definitionId,
    periodStart: command.periodStart,
    periodEnd: command.periodEnd,
    quantity: command.quantity,
    amountMinor: command.amountMinor,
    currency: definition.currency,
    sampleSize: command.sampleSize,
    matchedSamples: command.matchedSamples,
    accuracyBasisPoints: accuracyBasisPoints(command.matchedSamples, command.sampleSize),
    source: command.source,
  };
}
