import { approvalDecider } from '../../../src/approvals/approval.decider';
import { SECURITY_EVENT_TYPES } from '../../../src/auth/security-log';
import type { Decider, DomainEvent } from '../../../src/commands/decider';
import { TopicNames } from '../../../src/fanout/topics';
import { goLiveDecider } from '../../../src/go-live/go-live.decider';
import { setupDecider } from '../../../src/setup/setup.decider';
import { valueCalculationDecider } from '../../../src/value-calculations/value-calculation.decider';
import { workspaceDecider } from '../../../src/workspaces/workspace.decider';
import { PROJECTORS } from '../../../projections';

/**
 * Kafka keeps order per partition of one topic. A projector's revision guard relies on seeing a
 * stream's events in order, so all events of one stream must go to one topic: one domain (type
 * prefix) per stream category.
 */
const DECIDERS: Array<Decider<unknown, DomainEvent, unknown>> = [workspaceDecider, approvalDecider, setupDecider, valueCalculationDecider, goLiveDecider] as never;

describe('one stream, one topic', () => {
  const topics = new TopicNames();

  it.each(DECIDERS.map((decider) => [decider.category, decider] as const))('every event type of %s streams goes to the same topic', (_category, decider) => {
    expect(new Set(Object.keys(decider.schemaVersions).map((type) => topics.forEvent(type))).size).toBe(1);
  });

  it('so do the security events, which share the security-<tenant> stream', () => {
    expect(new Set(SECURITY_EVENT_TYPES.map((type) => topics.forEvent(type))).size).toBe(1);
  });

  it('no two stream categories share a name, and every projected type is emitted by someone', () => {
    expect(new Set(DECIDERS.map((decider) => decider.category)).size).toBe(DECIDERS.length);
    const emitted = new Set([...DECIDERS.flatMap((decider) => Object.keys(decider.schemaVersions)), ...SECURITY_EVENT_TYPES]);
    for (const projector of PROJECTORS) for (const type of projector.handles) expect({ projector: projector.name, type, emitted: emitted.has(type) }).toEqual({ projector: projector.name, type, emitted: true });
  });
});
