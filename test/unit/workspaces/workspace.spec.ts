import type { Role as WorkspaceRole } from '../../../src/workspaces/events';
import fc from 'fast-check';
import { upcast } from '../../../contracts/upcasters';
import { DomainError } from '../../../src/errors/proofline-error';
import type { RegisterWorkspace, WorkspaceCommand } from '../../../src/workspaces/decide';
import { SYSTEM_ACTOR_ID } from '../../../src/workspaces/decide-authority';
import { PLAN_TIERS, ROLES, WORKSPACE_SCHEMA_VERSIONS, type PlanTier, type WorkspaceEvent } from '../../../src/workspaces/events';
import { initialWorkspaceState, type WorkspaceState } from '../../../src/workspaces/state';
import { workspaceDecider } from '../../../src/workspaces/workspace.decider';
import { decide, givenWhenThen } from '../../support/given-when-then';
import { deepFreeze } from '../../support/deep-freeze';

const { given } = givenWhenThen(workspaceDecider);

type Owner = RegisterWorkspace['owner'];
const OWNER: Owner = { userId: 'u-owner', email: 'owner@acme.test', role: 'CUSTOMER_ADMIN' };

// Events
const registered = (name = 'Acme', planTier: PlanTier = 'FREE', workspaceId = 'ws-1', owner: Owner = OWNER): WorkspaceEvent => ({
  type: 'workspaces.registered',
  data: { workspaceId, name, planTier, owner: { ...owner } },
});
const renamed = (name: string, previousName: string): WorkspaceEvent => ({ type: 'workspaces.renamed', data: { name, previousName } });
const planChanged = (planTier: PlanTier, previousPlanTier: PlanTier): WorkspaceEvent => ({
  type: 'workspaces.plan-changed',
  data: { planTier, previousPlanTier },
});
const closed = (reason = 'done'): WorkspaceEvent => ({ type: 'workspaces.closed', data: { reason } });

// Commands
const register = (name = 'Acme', planTier: PlanTier = 'FREE', workspaceId = 'ws-1', owner: Owner = OWNER): WorkspaceCommand => ({
  type: 'RegisterWorkspace',
  workspaceId,
  name,
  planTier,
  owner,
});
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
  {
    given: 'unregistered',
    history: histories.unregistered,
    when: 'RegisterWorkspace (ADMIN owner)',
    command: register('Acme', 'PRO', 'ws-1', { userId: 'u-op', email: 'op@proofline.test', role: 'ADMIN' }),
    then: [registered('Acme', 'PRO', 'ws-1', { userId: 'u-op', email: 'op@proofline.test', role: 'ADMIN' })],
  },
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

  describe('approval policy (segregation of duties, on by default)', () => {
    const ADMIN_BY = { userId: 'u-op', role: 'ADMIN' } as const;
    const policy = (segregationOfDuties: boolean, changedBy: { userId: string; role: WorkspaceRole } = ADMIN_BY): WorkspaceCommand => ({ type: 'SetApprovalPolicy', segregationOfDuties, reason: 'two-person team', changedBy });
    const off = { type: 'workspaces.approval-policy-set', data: { segregationOfDuties: false, reason: 'two-person team', changedBy: ADMIN_BY } } as const;
    it('given an active workspace, when an ADMIN turns it off with a reason, then workspaces.approval-policy-set naming who and why, and the state says off', () => {
      given(histories.active).when(policy(false)).then([off]);
      const turnedOff = given([...histories.active, off]);
      expect(turnedOff.state).toMatchObject({ segregationOfDuties: false });
      turnedOff.when(policy(false)).then([]);
    });
    it('a CUSTOMER_ADMIN (a FINAL approver) may not turn it off: 403 APPROVAL_POLICY.ADMIN_REQUIRED; may turn it back on', () => {
      given(histories.active).when(policy(false, { userId: 'u-ca', role: 'CUSTOMER_ADMIN' })).thenRejects('APPROVAL_POLICY.ADMIN_REQUIRED', 403);
      given([...histories.active, off]).when(policy(true, { userId: 'u-ca', role: 'CUSTOMER_ADMIN' })).then([
        { type: 'workspaces.approval-policy-set', data: { segregationOfDuties: true, reason: 'two-person team', changedBy: { userId: 'u-ca', role: 'CUSTOMER_ADMIN' } } },
      ]);
    });
    it('given an active workspace, when set to what it is already (on), then nothing', () => {
      given(histories.active).when(policy(true)).then([]);
    });
    it('given a closed or unregistered workspace, then WORKSPACE.CLOSED / WORKSPACE.NOT_FOUND', () => {
      given(histories.closed).when(policy(false)).thenRejects(CLOSED.code, CLOSED.status);
      given(histories.unregistered).when(policy(false)).thenRejects(NOT_FOUND.code, NOT_FOUND.status);
    });
  });

  describe('state', () => {
    it('folds registered, renamed, plan-changed and closed; the owner is the first member', () => {
      expect(given(histories['closed after changes']).state).toEqual({
        status: 'closed',
        workspaceId: 'ws-1',
        segregationOfDuties: true,
        name: 'Acme Corp',
        planTier: 'PLUS',
        members: { 'u-owner': { email: 'owner@acme.test', role: 'CUSTOMER_ADMIN', since: null } },
        apiKeys: {},
        invitations: {},
      });
    });

    it('the registration copies the owner, not a reference to the command', () => {
      const owner: Owner = { userId: 'u-1', email: 'one@acme.test', role: 'ADMIN' };
      const outcome = decide(workspaceDecider, register('Acme', 'FREE', 'ws-1', owner), initialWorkspaceState);
      if ('rejected' in outcome) throw outcome.rejected;
      expect(outcome.events).toEqual([registered('Acme', 'FREE', 'ws-1', owner)]);
      const [event] = outcome.events;
      if (event.type !== 'workspaces.registered') throw new Error(`expected workspaces.registered, got ${event.type}`);
      expect(event.data.owner).not.toBe(owner);
    });

    it('ignores changes to an unregistered workspace (no event can create it but registered)', () => {
      expect(given([renamed('X', 'Y'), planChanged('PRO', 'FREE'), closed()]).state).toEqual({ status: 'unregistered' });
    });

    it('decide does not mutate the state it is given', () => {
      const state = deepFreeze(given(histories.active).state);
      const membership: WorkspaceCommand[] = [
        { type: 'AddMember', userId: 'u-2', email: 'two@acme.test', role: 'FINANCE', at: '2029-05-01T00:00:00.000Z', grantedBy: 'CUSTOMER_ADMIN', actorId: 'u-owner' },
        { type: 'ChangeMemberRole', userId: 'u-owner', role: 'AUDITOR', grantedBy: 'CUSTOMER_ADMIN', actorId: 'u-owner' },
        { type: 'RemoveMember', userId: 'u-owner', grantedBy: 'CUSTOMER_ADMIN', actorId: 'u-owner' },
        { type: 'CreateApiKey', keyId: 'k-1', name: 'ci', roles: ['TECHNICAL'], secretSha256: 'ab'.repeat(32), grantedBy: 'CUSTOMER_ADMIN', actorId: 'u-owner' },
        { type: 'RevokeApiKey', keyId: 'k-1', reason: 'x', grantedBy: 'ADMIN', actorId: SYSTEM_ACTOR_ID },
      ];
      for (const command of [register(), rename('B'), changePlan('PRO'), close(), ...membership]) {
        expect(() => decide(workspaceDecider, command, state)).not.toThrow();
      }
    });
  });

  describe('schema versions', () => {
    it('workspaces.registered is at version 2 and the decider reads version 1 up to it', () => {
      expect(WORKSPACE_SCHEMA_VERSIONS['workspaces.registered']).toBe(2);
      expect(workspaceDecider.schemaVersions['workspaces.registered']).toBe(2);
      expect(workspaceDecider.upcasters['workspaces.registered']).toHaveLength(1);
    });

    it('a v1 workspaces.registered (no owner) reads as owner: null and evolves to a workspace with no members', () => {
      const v1 = { workspaceId: 'ws-old', name: 'Legacy', planTier: 'PLUS' };
      const read = upcast(workspaceDecider.upcasters, 'workspaces.registered', 1, v1);
      expect(read).toEqual({ schemaVersion: 2, data: { workspaceId: 'ws-old', name: 'Legacy', planTier: 'PLUS', owner: null } });
      expect(v1).toEqual({ workspaceId: 'ws-old', name: 'Legacy', planTier: 'PLUS' }); // the stored data is not touched

      const event = { type: 'workspaces.registered', data: read.data } as WorkspaceEvent;
      const state = given([event]).state;
      expect(state).toEqual({ status: 'active', workspaceId: 'ws-old', name: 'Legacy', planTier: 'PLUS', members: {}, apiKeys: {}, invitations: {}, segregationOfDuties: true });
    });

    it('a v2 workspaces.registered passes through upcast unchanged', () => {
      const v2 = { workspaceId: 'ws-1', name: 'Acme', planTier: 'FREE', owner: { ...OWNER } };
      expect(upcast(workspaceDecider.upcasters, 'workspaces.registered', 2, v2)).toEqual({ schemaVersion: 2, data: v2 });
    });
  });
});

describe('workspace aggregate: properties', () => {
  const names = fc.constantFrom('Acme', 'Acme Corp', 'Globex', 'Initech');
  const planTier = fc.constantFrom(...PLAN_TIERS);
  const userId = fc.constantFrom('u-1', 'u-2', 'u-3');
  const email = fc.constantFrom('a@acme.test', 'b@acme.test');
  const role = fc.constantFrom(...ROLES);
  const keyId = fc.constantFrom('k-1', 'k-2');
  const owner: fc.Arbitrary<Owner> = fc.record({ userId, email, role: fc.constantFrom('ADMIN' as const, 'CUSTOMER_ADMIN' as const) });
  const command: fc.Arbitrary<WorkspaceCommand> = fc.oneof(
    fc.record({ type: fc.constant('RegisterWorkspace' as const), workspaceId: fc.constantFrom('ws-1', 'ws-2'), name: names, planTier, owner }),
    fc.record({ type: fc.constant('RenameWorkspace' as const), name: names }),
    fc.record({ type: fc.constant('ChangePlan' as const), planTier }),
    fc.record({ type: fc.constant('CloseWorkspace' as const), reason: fc.string({ maxLength: 8 }) }),
    fc.record({ type: fc.constant('AddMember' as const), userId, email, role, at: fc.constant('2029-05-01T00:00:00.000Z'), grantedBy: role, actorId: fc.constant(SYSTEM_ACTOR_ID) }),
    fc.record({ type: fc.constant('ChangeMemberRole' as const), userId, role, grantedBy: role, actorId: fc.constant(SYSTEM_ACTOR_ID) }),
    fc.record({ type: fc.constant('RemoveMember' as const), userId, grantedBy: role, actorId: fc.constant(SYSTEM_ACTOR_ID) }),
    fc.record({
      type: fc.constant('CreateApiKey' as const),
      keyId,
      name: names,
      roles: fc.uniqueArray(role, { minLength: 1, maxLength: 3 }),
      secretSha256: fc.constant('00'.repeat(32)),
      grantedBy: role,
      actorId: fc.constant(SYSTEM_ACTOR_ID),
    }),
    fc.record({ type: fc.constant('RevokeApiKey' as const), keyId, reason: fc.string({ maxLength: 8 }), grantedBy: fc.constantFrom(...ROLES), actorId: fc.constant(SYSTEM_ACTOR_ID) }),
  );
  const ACCEPTED_REJECTIONS = [
    ALREADY_REGISTERED.code,
    NOT_FOUND.code,
    CLOSED.code,
    'MEMBER.ADMINISTRATOR_REQUIRED',
    'MEMBER.ADMIN_ROLE_REQUIRED',
    'MEMBER.ALREADY_MEMBER',
    'MEMBER.NOT_FOUND',
    'MEMBER.LAST_ADMINISTRATOR',
    'API_KEY.ALREADY_EXISTS',
    'API_KEY.NOT_FOUND',
  ];

  it('replay = live; nothing follows workspaces.closed; workspaces.registered at most once and first', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
        let live: WorkspaceState = workspaceDecider.initialState;
        const emitted: WorkspaceEvent[] = [];
        for (const next of commands) {
          const outcome = decide(workspaceDecider, next, live); // anything but a DomainError fails the property
          if ('rejected' in outcome) {
            expect(ACCEPTED_REJECTIONS).toContain(outcome.rejected.code);
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
