import { streamIdFor } from '../commands/stream-id';
import { workspaceDecider } from '../workspaces/workspace.decider';
import type { Infrastructure } from './infrastructure';

/** The demo tenant of the embedded profile: a fixed id so the README's examples work as written. */
export const DEMO_TENANT_ID = '00000000-0000-7000-8000-000000000001';

/** Registers the demo workspace once; later starts find it and change nothing. */
export async function seedDemoTenant(infrastructure: Infrastructure): Promise<void> {
  const streamId = streamIdFor('workspace', DEMO_TENANT_ID);
  const commandId = '00000000-0000-7000-8000-0000000000c1';
  await infrastructure.pipeline.handle(workspaceDecider, {
    streamId,
    command: { type: 'RegisterWorkspace', workspaceId: DEMO_TENANT_ID, name: 'Demo Workspace', planTier: 'PRO' },
    context: {
      tenantId: DEMO_TENANT_ID,
      actor: { id: 'proofline-demo-seed', role: 'ADMIN' },
      correlationId: commandId,
      causationId: commandId,
      commandId,
      now: new Date().toISOString(),
      idempotency: { key: 'demo-tenant-seed', requestHash: 'demo-tenant-seed-v1' },
    },
  });
}
