import type { Knex } from 'knex';
import { approvalsCurrentProjector } from '../../projections/approvals-current.projector';
import { readPosition } from '../../projections/runtime/positions';
import type { Projector } from '../../projections/runtime/projector';
import { tablesOf } from '../../projections/runtime/tables';
import { approvalDecider } from '../approvals/approval.decider';
import { streamIdFor } from '../commands/stream-id';
import type { StateLoader } from '../commands/state-loader';
import type { EventStore } from '../eventstore/event-store.port';
import { formatPosition } from '../eventstore/global-position';
import { SETUP_STEPS } from '../setup/events';
import { setupDecider } from '../setup/setup.decider';
import { stepDone } from '../setup/state';
import { definitionAccuracy } from '../value-calculations/decide-accuracy';
import { countingCalculations } from '../value-calculations/state';
import { valueCalculationDecider } from '../value-calculations/value-calculation.decider';
import type { PreflightFacts, ProjectionFact } from './events';

/** Events of the tenant read past a projector's position before calling it behind without looking further. */
const LAG_SCAN = 1000;

/**
 * The facts a go-live is decided on, each with the id and stream version (or projector position)
 * it came from, so `go-live.activated` shows exactly what the decision rested on.
 *
 * Only the list of the tenant's definitions comes from a read model (approvals_current): it is
 * checked for lag first (`projections`). Everything else is folded from the signed streams:
 * setup, each definition's status and baseline, each definition's calculations.
 */
export async function gatherPreflightFacts(knex: Knex, store: EventStore, states: StateLoader, tenantId: string, now: string): Promise<PreflightFacts> {
  const projections = [await projectionFact(knex, store, approvalsCurrentProjector, tenantId)];
  const setupStream = streamIdFor('setup', tenantId);
  const { state: setup, version: setupVersion } = await states.loadCurrent(setupDecider, setupStream);
  const listed: Array<{ definition_id: string }> = await knex(tablesOf(approvalsCurrentProjector, 'live').tables.approvals)
    .where({ tenant_id: tenantId })
    .whereNotNull('approval_id')
    .orderBy('definition_id')
    .select('definition_id');
  const completed: PreflightFacts['approvals']['completed'] = [];
  const pending: PreflightFacts['approvals']['pending'] = [];
  const accuracy: PreflightFacts['accuracy'] = [];
  const baselines: PreflightFacts['baseline']['definitions'] = [];
  for (const { definition_id: definitionId } of listed) {
    const { state, version } = await states.loadCurrent(approvalDecider, streamIdFor('valuedef', tenantId, definitionId));
    if (state.status === 'none') continue;
    const ref = { definitionId, streamVersion: version ?? null };
    if (state.status === 'approved') {
      completed.push(ref);
      baselines.push({ definitionId, baseline: state.definition.baseline });
      const calculations = await states.loadCurrent(valueCalculationDecider, streamIdFor('valuecalc', tenantId, definitionId));
      accuracy.push({ definitionId, calculationStreamVersion: calculations.version ?? null, measured: definitionAccuracy(definitionId, countingCalculations(calculations.state), now) });
    } else if (state.status === 'in-review' || state.status === 'changes-requested') {
      pending.push({ ...ref, status: state.status });
    }
  }
  return {
    decidedAt: now,
    setup: {
      streamVersion: setupVersion ?? null,
      missingSteps: SETUP_STEPS.filter((step) => !stepDone(setup, step)),
      staleSteps: SETUP_STEPS.filter((step) => setup.steps[step]?.stale === true),
    },
    approvals: { completed, pending },
    accuracy,
    baseline: { setup: setup.baseline?.value ?? null, definitions: baselines },
    projections,
  };
}

/**
 * How far the read model is from this tenant's events: its state, its position, and whether an
 * event of this tenant that it handles lies after that position (read up to LAG_SCAN events of
 * the tenant; more than that counts as behind too).
 */
async function projectionFact(knex: Knex, store: EventStore, projector: Projector, tenantId: string): Promise<ProjectionFact> {
  const stored = await readPosition(knex, projector.name);
  const after = await store.readAll(stored.position, LAG_SCAN, { tenantId });
  const handles = new Set(projector.handles);
  const pendingEvents = after.filter((event) => handles.has(event.envelope.type)).length;
  return { projector: projector.name, position: formatPosition(stored.position), state: stored.state, pendingEvents, scanned: after.length, complete: after.length < LAG_SCAN };
}
