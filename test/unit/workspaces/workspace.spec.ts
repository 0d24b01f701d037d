import fc from 'fast-check';
import { DomainError } from '../../../src/errors/proofline-error';
import type { WorkspaceCommand } from '../../../src/workspaces/decide';
import { PLAN_TIERS, type PlanTier, type WorkspaceEvent } from '../../../src/workspaces/events';
import { initialWorkspaceState, type WorkspaceState } from '../../../src/workspaces/state';
import { workspaceDecider } from '../../../src/workspaces/workspace.decider';
import { decide, givenWhenThen } from '../../support/given-when-then';

const { given } = givenWhenThen(workspaceDecider);

// Events
const registered = (name = 'Acme', planTier: PlanTier = 'FREE', workspaceId = 'ws-1'): WorkspaceEvent => ({
  type: 'workspaces.registered',
  data: { workspaceId, name, planTier },
});
const renamed = (name: string, previousName: string): WorkspaceEvent => ({ type: 'workspaces.renamed', data: { name, previousName } });
const planChanged = (planTier: PlanTier, previousPlanTier: PlanTier): WorkspaceEvent => ({
  type: 'workspaces.plan-changed',
  data: { planTier, previousPlanTier },
});
const closed = (reason = 'done'): WorkspaceEvent => ({ type: 'workspaces.closed', data: { reason } });

// Commands
const register = (name = 'Acme', planTier: PlanTier = 'FREE', workspaceId = 'ws-1'): WorkspaceCommand => ({ type: 'RegisterWorkspace', workspaceId, name, planTier });
const rename = (name: string): WorkspaceCommand => ({ type: 'RenameWorkspace', name });
const changePlan = (planTier: PlanTier): WorkspaceCommand => ({ type: 'ChangePlan', planTier });
const close = (reason = 'done'): WorkspaceCommand => ({ type: 'CloseWorkspace', reason });

const ALREADY_REGISTERED = { code: 'WORKSPACE.ALREADY_REGISTERED', status: 409 } as const;
const NOT_FOUND = { code: 'WORKSPACE.NOT_FOUND', status: 404 } as const;
const CLOSED = { code: 'WORKSPACE.CLOSED', status: 409 } as const;

type Expected = readonly WorkspaceEvent[] | { readonly code: string; readonly status: number };

interface Scenario {
  readonly given: string;
  readonly history: readonly WorkspaceEvent[];
  readonly when: string;
  readonly command: WorkspaceCommand;
  readonly then: Expected;
}

const histories = {
  unregistered: [] as WorkspaceEvent[],
  active: [registered('Acme', 'FREE')],
  'active, renamed and upgraded': [registered('Acme', 'FREE'), renamed('Acme Corp', 'Acme'), planChanged('PRO', 'FREE')],
  closed: [registered('Acme', 'FREE'), closed('bye')],
  'closed after changes': [registered('Acme', 'FREE'), renamed('Acme Corp', 'Acme'), planChanged('PLUS', 'FREE'), closed('bye')],
};

const scenarios: Scenario[] = [
  // unregistered × each command
  { given: 'unregistered', history: histories.unregistered, when: 'RegisterWorkspace', command: register('Acme', 'PLUS'), then: [registered('Acme', 'PLUS')] },
  { given: 'unregistered', history: histories.unregistered, when: 'RenameWorkspace', command: rename('Other'), then: NOT_FOUND },
  { given: 'unregistered', history: histories.unregistered, when: 'ChangePlan', command: changePlan('PRO'), then: NOT_FOUND },
  { given: 'unregistered', history: histories.unregistered, when: 'CloseWorkspace', command: close(), then: NOT_FOUND },

  // active × each command
  { given: 'active', history: histories.active, when: 'RegisterWorkspace', command: register('Acme', 'FREE'), then: ALREADY_REGISTERED },
  { given: 'active', history: histories.active, when: 'RegisterWorkspace (another id)', command: register('Other', 'PRO', 'ws-2'), then: ALREADY_REGISTERED },
  { given: 'active', history: histories.active, when: 'RenameWorkspace', command: rename('Acme Corp'), then: [renamed('Acme Corp', 'Acme')] },
  { given: 'active', history: histories.active, when: 'RenameWorkspace (same name)', command: rename('Acme'), then: [] },
  { given: 'active', history: histories.active, when: 'ChangePlan', command: changePlan('PRO'), then: [planChanged('PRO', 'FREE')] },
  { given: 'active', history: histories.active, when: 'ChangePlan (same plan)', command: changePlan('FREE'), then: [] },
  { given: 'active', history: histories.active, when: 'CloseWorkspace', command: close('moving on'), then: [closed('moving on')] },

  // active after changes: the state follows the latest rename / plan change
  {
    given: 'active, renamed and upgraded',
    history: histories['active, renamed and upgraded'],
    when: 'RegisterWorkspace',
    command: register(),
    then: ALREADY_REGISTERED,
  },
  {
    given: 'active, renamed and upgraded',
    history: histories['active, renamed and upgraded'],
    when: 'RenameWorkspace (back to the first name)',
    command: rename('Acme'),
    then: [renamed('Acme', 'Acme Corp')],
  },
  {
    given: 'active, renamed and upgraded',
    history: histories['active, renamed and upgraded'],
    when: 'RenameWorkspace (same as latest)',
    command: rename('Acme Corp'),
    then: [],
  },
  {
    given: 'active, renamed and upgraded',
    history: histories['active, renamed and upgraded'],
    when: 'ChangePlan (downgrade)',
    command: changePlan('PLUS'),
    then: [planChanged('PLUS', 'PRO')],
  },
  {
    given: 'active, renamed and upgraded',
    history: histories['active, renamed and upgraded'],
    when: 'ChangePlan (same as latest)',
    command: changePlan('PRO'),
    then: [],
  },
  {
    given: 'active, renamed and upgraded',
    history: histories['active, renamed and upgraded'],
    when: 'CloseWorkspace',
    command: close(),
    then: [closed()],
  },

  // closed × each command (even no-ops are refused: a closed workspace accepts no changes)
  { given: 'closed', history: histories.closed, when: 'RegisterWorkspace', command: register(), then: ALREADY_REGISTERED },
  { given: 'closed', history: histories.closed, when: 'RenameWorkspace', command: rename('Other'), then: CLOSED },
  { given: 'closed', history: histories.closed, when: 'RenameWorkspace (same name)', command: rename('Acme'), then: CLOSED },
  { given: 'closed', history: histories.closed, when: 'ChangePlan', command: changePlan('PRO'), then: CLOSED },
  { given: 'closed', history: histories.closed, when: 'ChangePlan (same plan)', command: changePlan('FREE'), then: CLOSED },
  { given: 'closed', history: histories.closed, when: 'CloseWorkspace', command: close(), then: CLOSED },
  { given: 'closed after changes', history: histories['closed after changes'], when: 'RegisterWorkspace', command: register(), then: ALREADY_REGISTERED },
  { given: 'closed after changes', history: histories['closed after changes'], when: 'RenameWorkspace', command: rename('X'), then: CLOSED },
  { given: 'closed after changes', history: histories['closed after changes'], when: 'ChangePlan', command: changePlan('FREE'), then: CLOSED },
  { given: 'closed after changes', history: histories['closed after changes'], when: 'CloseWorkspace', command: close(), then: CLOSED },
];

const describeThen = (then: Expected) => ('code' in then ? `${then.code} (${then.status})` : `[${then.map((event) => event.type).join(', ')}]`);

describe('workspace aggregate: given events, when command, then events | error code', () => {
  it.each(scenarios.map((s) => [s.given, s.when, describeThen(s.then), s] as const))('given %s, when %s, then %s', (_given, _when, _then, scenario) => {
    const step = given(scenario.history).when(scenario.command);
    if ('code' in scenario.then) step.thenRejects(scenario.then.code, scenario.then.status);
    else step.then(scenario.then);
  });

  it('covers every state × every command', () => {
    const commandTypes = new Set(['RegisterWorkspace', 'RenameWorkspace', 'ChangePlan', 'CloseWorkspace']);
    for (const status of ['unregistered', 'active', 'closed']) {
      const covered = new Set(
        scenarios.filter((s) => s.history.reduce(workspaceDecider.evolve, initialWorkspaceState).status === status).map((s) => s.command.type),
      );
      expect(covered).toEqual(commandTypes);
    }
  });

  describe('error details', () => {
    it('ALREADY_REGISTERED names the workspace id given in the command', () => {
      const error = given([registered('Acme', 'FREE', 'ws-1')]).when(register('Acme', 'FREE', 'ws-9')).thenRejects(ALREADY_REGISTERED.code, 409);
      expect(error).toBeInstanceOf(DomainError);
      expect(error.details).toEqual({ workspaceId: 'ws-9' });
    });

    it('CLOSED names the closed workspace', () => {
      const error = given(histories.closed).when(rename('X')).thenRejects(CLOSED.code, 409);
      expect(error.details).toEqual({ workspaceId: 'ws-1' });
      expect(error.message).toMatch(/ws-1 is closed/);
    });

    it('NOT_FOUND carries no details', () => {
      expect(given([]).when(close()).thenRejects(NOT_FOUND.code, 404).details).toEqual({});
    });
  });

  describe('state', () => {
    it('folds registered, renamed, plan-changed and closed', () => {
      expect(given(histories['closed after changes']).state).toEqual({ status: 'closed', workspaceId: 'ws-1', name: 'Acme Corp', planTier: 'PLUS' });
    });

    it('ignores changes to an unregistered workspace (no event can create it but registered)', () => {
      expect(given([renamed('X', 'Y'), planChanged('PRO', 'FREE'), closed()]).state).toEqual({ status: 'unregistered' });
    });

    it('decide does not mutate the state it is given', () => {
      const state = deepFreeze(given(histories.active).state);
      for (const command of [register(), rename('B'), changePlan('PRO'), close()]) expect(() => decide(workspaceDecider, command, state)).not.toThrow();
    });
  });
});

describe('workspace aggregate: properties', () => {
  const names = fc.constantFrom('Acme', 'Acme Corp', 'Globex', 'Initech');
  const planTier = fc.constantFrom(...PLAN_TIERS);
  const command: fc.Arbitrary<WorkspaceCommand> = fc.oneof(
    fc.record({ type: fc.constant('RegisterWorkspace' as const), workspaceId: fc.constantFrom('ws-1', 'ws-2'), name: names, planTier }),
    fc.record({ type: fc.constant('RenameWorkspace' as const), name: names }),
    fc.record({ type: fc.constant('ChangePlan' as const), planTier }),
    fc.record({ type: fc.constant('CloseWorkspace' as const), reason: fc.string({ maxLength: 8 }) }),
  );

  it('replay = live; nothing follows workspaces.closed; workspaces.registered at most once and first', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
        let live: WorkspaceState = workspaceDecider.initialState;
        const emitted: WorkspaceEvent[] = [];
        for (const next of commands) {
          const outcome = decide(workspaceDecider, next, live); // anything but a DomainError fails the property
          if ('rejected' in outcome) {
            expect([ALREADY_REGISTERED.code, NOT_FOUND.code, CLOSED.code]).toContain(outcome.rejected.code);
            continue;
          }
          live = outcome.events.reduce(workspaceDecider.evolve, live);
          emitted.push(...outcome.events);
        }

        const replayed = emitted.reduce(workspaceDecider.evolve, workspaceDecider.initialState);
        expect(replayed).toEqual(live);
        expect(JSON.parse(JSON.stringify(live))).toEqual(live); // a state survives a snapshot's JSON round trip

        const registrations = emitted.map((event, index) => (event.type === 'workspaces.registered' ? index : -1)).filter((index) => index >= 0);
        expect(registrations.length).toBeLessThanOrEqual(1);
        if (emitted.length > 0) expect(registrations).toEqual([0]);

        const closedAt = emitted.findIndex((event) => event.type === 'workspaces.closed');
        if (closedAt >= 0) expect(closedAt).toBe(emitted.length - 1);

        expect(live.status).toBe(emitted.length === 0 ? 'unregistered' : closedAt >= 0 ? 'closed' : 'active');
      }),
      { numRuns: 300 },
    );
  });

  it('every emitted rename / plan change records the value it replaces, and never a no-op', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 30 }), (commands) => {
        let state: WorkspaceState = workspaceDecider.initialState;
        for (const next of commands) {
          const outcome = decide(workspaceDecider, next, state);
          if ('rejected' in outcome) continue;
          for (const event of outcome.events) {
            if (state.status !== 'unregistered' && event.type === 'workspaces.renamed') {
              expect(event.data.previousName).toBe(state.name);
              expect(event.data.name).not.toBe(state.name);
            }
            if (state.status !== 'unregistered' && event.type === 'workspaces.plan-changed') {
              expect(event.data.previousPlanTier).toBe(state.planTier);
              expect(event.data.planTier).not.toBe(state.planTier);
            }
            state = workspaceDecider.evolve(state, event);
          }
        }
      }),
    );
  });
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}
