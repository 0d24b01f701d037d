import { approvalHistoryProjector } from './approval-history.projector';
import { approvalsCurrentProjector } from './approvals-current.projector';
import { goLiveStatusProjector } from './go-live-status.projector';
import type { Projector } from './runtime/projector';
import { valueCalculationsProjector } from './value-calculations.projector';
import { tenantActivityProjector } from './tenant-activity.projector';
import { workspaceDirectoryProjector } from './workspace-directory.projector';

/** Every read model Proofline keeps. A new projector is one file and one line here. */
export const PROJECTORS: readonly Projector[] = [workspaceDirectoryProjector, tenantActivityProjector, approvalHistoryProjector, approvalsCurrentProjector, valueCalculationsProjector, goLiveStatusProjector];

export function projectorNamed(name: string): Projector | undefined {
  return PROJECTORS.find((projector) => projector.name === name);
}
