import type { CommandContext } from '../../src/commands/command-context';

/** The n-th command of a test actor for `tenantId`, at a fixed instant, so runs are reproducible. */
export function fixedCommandContext(tenantId: string, n: number): CommandContext {
  return {
    tenantId,
    actor: { id: 'cli-test', role: 'ADMIN' },
    correlationId: `c-${n}`,
    causationId: `c-${n}`,
    commandId: `c-${n}`,
    now: '2026-11-21T12:00:00.000Z',
  };
}
