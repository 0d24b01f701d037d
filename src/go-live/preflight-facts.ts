import type { Knex } from 'knex';
import { approvalsCurrentProjector } from '../../projections/approvals-current.projector';
import { tablesOf } from '../../projections/runtime/tables';
import { valueCalculationsProjector } from '../../projections/value-calculations.projector';
import { streamIdFor } from '../commands/stream-id';
import type { StateLoader } from '../commands/state-loader';
import { SETUP_STEPS } from '../setup/events';
import { setupDecider } from '../setup/setup.decider';
import type { PreflightFacts } from './events';

/** How many of the latest measured periods make up "the recent measurement accuracy". */
export const RECENT_CALCULATIONS = 5;

/**
 * The facts a go-live is decided on. Setup comes from its stream; approvals and calculations from
 * their read models (a tenant-wide count the streams cannot give in one read), as fresh as the
 * projections are — which is why the facts are recorded in the go-live event itself.
 */
export async function gatherPreflightFacts(knex: Knex, states: StateLoader, tenantId: string): Promise<PreflightFacts> {
  const { state: setup } = await states.loadCurrent(setupDecider, streamIdFor('setup', tenantId));
  const approvals = tablesOf(approvalsCurrentProjector, 'live').tables.approvals;
  const calculations = tablesOf(valueCalculationsProjector, 'live').tables.calculations;
  const counts: Array<{ status: string; n: string | number }> = await knex(approvals).where({ tenant_id: tenantId }).whereNotNull('approval_id').groupBy('status').select('status').count({ n: '*' });
  const count = (statuses: string[]) => counts.filter((row) => statuses.includes(row.status)).reduce((sum, row) => sum + Number(row.n), 0);
  const recent: Array<{ accuracy_basis_points: number }> = await knex(calculations).where({ tenant_id: tenantId }).orderBy([{ column: 'period_end', order: 'desc' }, { column: 'calculation_id' }]).limit(RECENT_CALCULATIONS).select('accuracy_basis_points');
  return {
    setupMissingSteps: SETUP_STEPS.filter((step) => setup.steps[step] !== true),
    approvalsCompleted: count(['approved']),
    approvalsPending: count(['in-review', 'changes-requested']),
    recentAccuracyBasisPoints: recent.length === 0 ? null : Math.floor(recent.reduce((sum, row) => sum + Number(row.accuracy_basis_points), 0) / recent.length),
    calculationsConsidered: recent.length,
  };
}
