import fc from 'fast-check';
import type { ApprovalCommand } from '../../../src/approvals/decide';
import { approvalDecider } from '../../../src/approvals/approval.decider';
import { STAGE_ROLES, STAGES, type ApprovalEvent, type Decider as DecidedBy, type Stage, type ValueDefinition } from '../../../src/approvals/events';
import type { ApprovalState } from '../../../src/approvals/state';
import type { DomainError } from '../../../src/errors/proofline-error';
import { ROLES, type Role } from '../../../src/workspaces/events';
import { decide } from '../../support/given-when-then';

/**
 * Random command sequences run against a drafted value definition. Each run picks how roles behave
 * ("fixed": a small pool of users, each always acting in the one role they hold; "changing": a few
 * users whose role may differ from one decision to the next, as after a role change — the only way
 * one person can qualify for two stages, so the only way segregation of duties is put to the test)
 * and how segregation of duties is set on each submission (always on, always off, or either).
 */

const DEF: ValueDefinition = { name: 'Energy saved', unit: 'kWh', formula: 'baseline kWh − metered kWh', unitPriceMinor: 1250, currency: 'EUR', baseline: 120000 };
/** The drafter; edits and submissions are made by them or, now and then, by someone who also decides stages (a maker who would check their own work). */
const MAKER = 'u-maker';
const DRAFTED: ApprovalEvent = { type: 'approvals.definition-drafted', data: { definitionId: 'def-1', draftedBy: MAKER, ...DEF } };
const START: ApprovalState = approvalDecider.evolve(approvalDecider.initialState, DRAFTED);

type RoleMode = 'fixed' | 'changing';
type SegregationMode = 'on' | 'off' | 'mixed';

/** Users with a fixed role: two per deciding role for FINANCE and TECHNICAL, one ADMIN, one CUSTOMER_ADMIN, one AUDITOR. */
const POOL: readonly DecidedBy[] = [
  { userId: 'u-fin1', role: 'FINANCE' },
  { userId: 'u-fin2', role: 'FINANCE' },
  { userId: 'u-tech1', role: 'TECHNICAL' },
  { userId: 'u-tech2', role: 'TECHNICAL' },
  { userId: 'u-admin', role: 'ADMIN' },
  { userId: 'u-ca', role: 'CUSTOMER_ADMIN' },
  { userId: 'u-aud', role: 'AUDITOR' },
];
const ROLE_HELD: Readonly<Record<string, Role>> = Object.fromEntries(POOL.map((user) => [user.userId, user.role]));
const PEOPLE = ['u-1', 'u-2', 'u-3', 'u-4'] as const;

const KNOWN_CODES = [
  'VALUE_DEFINITION.ALREADY_EXISTS',
  'VALUE_DEFINITION.NOT_FOUND',
  'VALUE_DEFINITION.NOT_EDITABLE',
  'APPROVAL.NOT_SUBMITTABLE',
  'APPROVAL.NOT_IN_REVIEW',
  'APPROVAL.STAGE_OUT_OF_ORDER',
  'APPROVAL.WRONG_STAGE_ROLE',
  'APPROVAL.SEGREGATION_OF_DUTIES',
  'APPROVAL.MAKER_CANNOT_DECIDE',
];

function commands(roles: RoleMode, segregation: SegregationMode): fc.Arbitrary<ApprovalCommand[]> {
  const anyone: fc.Arbitrary<DecidedBy> = roles === 'fixed' ? fc.constantFrom(...POOL) : fc.record({ userId: fc.constantFrom(...PEOPLE), role: fc.constantFrom(...ROLES) });
  // Half the decisions pair a stage with someone acting in one of its roles, so that approvals actually complete.
  const qualified = (stage: Stage): fc.Arbitrary<DecidedBy> =>
    roles === 'fixed'
      ? fc.constantFrom(...POOL.filter((user) => STAGE_ROLES[stage].includes(user.role)))
      : fc.record({ userId: fc.constantFrom(...PEOPLE), role: fc.constantFrom(...STAGE_ROLES[stage]) });
  const decision: fc.Arbitrary<{ stage: Stage; decidedBy: DecidedBy }> = fc.oneof(
    fc.record({ stage: fc.constantFrom(...STAGES), decidedBy: anyone }),
    fc.constantFrom(...STAGES).chain((stage) => fc.record({ stage: fc.constant(stage), decidedBy: qualified(stage) })),
  );
  const segregationOfDuties = segregation === 'mixed' ? fc.boolean() : fc.constant(segregation === 'on');
  const author: fc.Arbitrary<string> = fc.oneof({ weight: 4, arbitrary: fc.constant(MAKER) }, { weight: 1, arbitrary: anyone.map((by) => by.userId) });
  const command: fc.Arbitrary<ApprovalCommand> = fc.oneof(
    { weight: 12, arbitrary: decision.chain((d) => fc.constantFrom(null, 'ok').map((comment): ApprovalCommand => ({ type: 'ApproveStage', ...d, comment, decidedAt: '2026-11-02T10:00:00.000Z' }))) },
    { weight: 2, arbitrary: decision.map((d): ApprovalCommand => ({ type: 'RequestChanges', ...d, reason: 'fix the baseline' })) },
    { weight: 1, arbitrary: decision.map((d): ApprovalCommand => ({ type: 'Reject', ...d, reason: 'not worth it' })) },
    { weight: 3, arbitrary: fc.record({ type: fc.constant('Submit' as const), approvalId: fc.constantFrom('ap-1', 'ap-2'), segregationOfDuties, submittedBy: author }) },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constant('EditDefinition' as const),
        changes: fc.record({ name: fc.constantFrom(DEF.name, 'Energy avoided'), unitPriceMinor: fc.constantFrom(1250, 900) }, { requiredKeys: [] }),
        editedBy: author,
      }),
    },
    { weight: 1, arbitrary: fc.constant<ApprovalCommand>({ type: 'DraftDefinition', definitionId: 'def-1', definition: DEF, draftedBy: MAKER }) },
  );
  return fc.array(command, { minLength: 10, maxLength: 80, size: 'max' });
}

interface Step {
  readonly command: ApprovalCommand;
  readonly before: ApprovalState;
  readonly after: ApprovalState;
  readonly events: readonly ApprovalEvent[];
  readonly refusal: DomainError | null;
}

/** Runs the commands from the drafted definition. Anything thrown but a DomainError escapes and fails the property. */
function trace(sequence: readonly ApprovalCommand[]): Step[] {
  let state = START;
  const steps: Step[] = [];
  for (const command of sequence) {
    const outcome = decide(approvalDecider, command, state);
    if ('rejected' in outcome) {
      steps.push({ command, before: state, after: state, events: [], refusal: outcome.rejected });
      continue;
    }
    const after = outcome.events.reduce(approvalDecider.evolve, state);
    steps.push({ command, before: state, after, events: outcome.events, refusal: null });
    state = after;
  }
  return steps;
}

const roundOf = (state: ApprovalState) => (state.status === 'none' ? 0 : state.round);
const isDecision = (command: ApprovalCommand): command is Extract<ApprovalCommand, { decidedBy: DecidedBy }> => 'decidedBy' in command;

/** The role the user really holds when deciding: the pool's in "fixed" mode, the one they act in otherwise. */
const roleHeld = (roles: RoleMode, by: DecidedBy): Role => (roles === 'fixed' ? ROLE_HELD[by.userId] : by.role);

/**
 * The property, checked from the emitted events and the commands alone (not from the
 * aggregate's state): an approvals.completed event only ends a round in which FINANCE, TECHNICAL
 * and FINAL were approved in that order, each by someone holding that stage's role, and — with
 * segregation on in that round — by three different people none of whom decided another stage of
 * this approval in any round.
 */
function checkCompletions(roles: RoleMode, steps: readonly Step[]): number {
  let completions = 0;
  let segregation = true;
  let approvedThisRound: Array<{ stage: Stage; by: DecidedBy }> = [];
  const decisions: Array<{ userId: string; stage: Stage }> = [];
  const makers = new Set([MAKER]);
  let definition = DEF;
  for (const step of steps) {
    for (const event of step.events) {
      switch (event.type) {
        case 'approvals.definition-edited': {
          const { definitionId: _id, changed: _changed, editedBy, ...edited } = event.data;
          makers.add(editedBy);
          definition = edited;
          break;
        }
        case 'approvals.submitted':
          makers.add(event.data.submittedBy);
          segregation = event.data.segregationOfDuties;
          approvedThisRound = [];
          break;
        case 'approvals.stage-approved':
        case 'approvals.changes-requested':
        case 'approvals.rejected': {
          if (!isDecision(step.command)) throw new Error(`${event.type} emitted for ${step.command.type}`);
          // the event records the decider and stage of the command it answers
          expect({ stage: event.data.stage, decidedBy: event.data.decidedBy }).toEqual({ stage: step.command.stage, decidedBy: step.command.decidedBy });
          decisions.push({ userId: step.command.decidedBy.userId, stage: step.command.stage });
          if (event.type === 'approvals.stage-approved') approvedThisRound.push({ stage: step.command.stage, by: step.command.decidedBy });
          break;
        }
        case 'approvals.completed': {
          completions += 1;
          expect(approvedThisRound.map((approval) => approval.stage)).toEqual(['FINANCE', 'TECHNICAL', 'FINAL']);
          // it says what was approved, and by whom
          expect(event.data.definition).toEqual(definition);
          expect(event.data.deciders?.map(({ stage, userId, role }) => ({ stage, by: { userId, role } }))).toEqual(approvedThisRound);
          expect(event.data.segregationOfDuties).toBe(segregation);
          for (const { stage, by } of approvedThisRound) {
            expect({ stage, role: by.role }).toEqual({ stage, role: roleHeld(roles, by) });
            expect(STAGE_ROLES[stage]).toContain(roleHeld(roles, by));
          }
          if (segregation) {
            expect(new Set(approvedThisRound.map((approval) => approval.by.userId)).size).toBe(3);
            // no maker checked their own work
            expect(approvedThisRound.filter(({ by }) => makers.has(by.userId))).toEqual([]);
            for (const { stage, by } of approvedThisRound) {
              const otherStages = decisions.filter((decision) => decision.userId === by.userId && decision.stage !== stage);
              expect({ userId: by.userId, stage, otherStages }).toEqual({ userId: by.userId, stage, otherStages: [] });
            }
          }
          break;
        }
        default:
          break;
      }
    }
  }
  return completions;
}

/**
 * The rules, written out independently of `decide`: what each command should do given what has
 * been emitted so far (null: accepted; otherwise the code of the first rule it breaks, in the order
 * in review → stage due → role → segregation of duties).
 */
class Model {
  status: 'draft' | 'in-review' | 'changes-requested' | 'approved' | 'rejected' = 'draft';
  segregation = true;
  due: Stage | null = null;
  readonly decided = new Map<string, Set<Stage>>();
  readonly makers = new Set([MAKER]);

  expected(command: ApprovalCommand): string | null {
    switch (command.type) {
      case 'DraftDefinition':
        return 'VALUE_DEFINITION.ALREADY_EXISTS';
      case 'EditDefinition':
        return this.status === 'draft' || this.status === 'changes-requested' ? null : 'VALUE_DEFINITION.NOT_EDITABLE';
      case 'Submit':
        return this.status === 'draft' || this.status === 'changes-requested' ? null : 'APPROVAL.NOT_SUBMITTABLE';
      default: {
        if (this.status !== 'in-review') return 'APPROVAL.NOT_IN_REVIEW';
        if (command.stage !== this.due) return 'APPROVAL.STAGE_OUT_OF_ORDER';
        if (!STAGE_ROLES[command.stage].includes(command.decidedBy.role)) return 'APPROVAL.WRONG_STAGE_ROLE';
        if (this.segregation && this.makers.has(command.decidedBy.userId)) return 'APPROVAL.MAKER_CANNOT_DECIDE';
        const other = [...(this.decided.get(command.decidedBy.userId) ?? [])].some((stage) => stage !== command.stage);
        return this.segregation && other ? 'APPROVAL.SEGREGATION_OF_DUTIES' : null;
      }
    }
  }

  /** What the command, accepted, does to the model. */
  accept(command: ApprovalCommand, events: readonly ApprovalEvent[]): void {
    // an edit that changes nothing records nothing, so makes no maker
    if (command.type === 'EditDefinition' && events.length > 0) this.makers.add(command.editedBy);
    if (command.type === 'Submit') {
      this.makers.add(command.submittedBy);
      this.status = 'in-review';
      this.due = 'FINANCE';
      this.segregation = command.segregationOfDuties;
    }
    if (!isDecision(command)) return;
    this.decided.set(command.decidedBy.userId, (this.decided.get(command.decidedBy.userId) ?? new Set()).add(command.stage));
    if (command.type === 'RequestChanges') this.status = 'changes-requested';
    if (command.type === 'Reject') this.status = 'rejected';
    this.due = command.type === 'ApproveStage' ? (STAGES[STAGES.indexOf(command.stage) + 1] ?? null) : null;
    if (command.type === 'ApproveStage' && this.due === null) this.status = 'approved';
  }
}

const MODES = (['fixed', 'changing'] as const).flatMap((roles) => (['on', 'off', 'mixed'] as const).map((segregation) => [roles, segregation] as const));

describe('approval aggregate: properties', () => {
  describe.each(MODES)('roles %s, segregation of duties %s', (roles, segregation) => {
    it('no approvals.completed unless FINANCE → TECHNICAL → FINAL were approved in that round by their roles (and, when on, three people who decided nothing else)', () => {
      let completions = 0;
      let runs = 0;
      fc.assert(
        fc.property(commands(roles, segregation), (sequence) => {
          runs += 1;
          completions += checkCompletions(roles, trace(sequence));
        }),
        { numRuns: 300 },
      );
      // the property is not vacuous: many runs reach a completion (about a third of them)
      expect(completions).toBeGreaterThan(runs / 5);
    });

    it('replay = live; only DomainErrors; rounds +1 per submission, one approval id; nothing after a rejection or completion', () => {
      fc.assert(
        fc.property(commands(roles, segregation), (sequence) => {
          const steps = trace(sequence);
          const emitted = [DRAFTED, ...steps.flatMap((step) => step.events)];
          const live = steps.length === 0 ? START : steps[steps.length - 1].after;
          expect(emitted.reduce(approvalDecider.evolve, approvalDecider.initialState)).toEqual(live);
          expect(JSON.parse(JSON.stringify(live))).toEqual(live);

          let approvalId: string | null = null;
          let endedBy: string | null = null;
          for (const [index, step] of steps.entries()) {
            const at = `step ${index} (${step.command.type})`;
            if (step.refusal) expect(KNOWN_CODES).toContain(step.refusal.code);
            if (endedBy !== null && step.events.length > 0) throw new Error(`${at} emitted ${step.events.map((event) => event.type)} after ${endedBy}`);
            const submissions = step.events.filter((event) => event.type === 'approvals.submitted').length;
            if (submissions !== (step.command.type === 'Submit' && !step.refusal ? 1 : 0)) throw new Error(`${at} emitted ${submissions} approvals.submitted`);
            if (roundOf(step.after) !== roundOf(step.before) + submissions) throw new Error(`${at} took the round from ${roundOf(step.before)} to ${roundOf(step.after)}`);
            for (const event of step.events) {
              if (event.type === 'approvals.submitted') {
                if (event.data.round !== roundOf(step.before) + 1) throw new Error(`${at} submitted round ${event.data.round} after round ${roundOf(step.before)}`);
                approvalId ??= event.data.approvalId;
              }
              if (event.type !== 'approvals.definition-drafted' && event.type !== 'approvals.definition-edited') {
                if (event.data.approvalId !== approvalId || event.data.round !== roundOf(step.after)) {
                  throw new Error(`${at}: ${event.type} for ${event.data.approvalId} round ${event.data.round}, expected ${approvalId} round ${roundOf(step.after)}`);
                }
              }
              if (event.type === 'approvals.rejected' || event.type === 'approvals.completed') endedBy = event.type;
            }
          }
          if (endedBy === 'approvals.rejected') expect(live.status).toBe('rejected');
          if (endedBy === 'approvals.completed') expect(live.status).toBe('approved');
        }),
        { numRuns: 300 },
      );
    });

    it('accepts and refuses exactly what the rules say, refusing with the first rule broken', () => {
      let refusedForSegregation = 0;
      fc.assert(
        fc.property(commands(roles, segregation), (sequence) => {
          const model = new Model();
          for (const step of trace(sequence)) {
            const expected = model.expected(step.command);
            const actual = step.refusal?.code ?? null;
            if (actual !== expected) throw new Error(`${JSON.stringify(step.command)}: expected ${expected ?? 'events'}, got ${actual ?? JSON.stringify(step.events)}`);
            if (expected === 'APPROVAL.SEGREGATION_OF_DUTIES') refusedForSegregation += 1;
            if (expected === null) model.accept(step.command, step.events);
          }
        }),
        { numRuns: 300 },
      );
      // Segregation of duties only bites when one person can act in two stages' roles.
      if (roles === 'changing' && segregation !== 'off') expect(refusedForSegregation).toBeGreaterThan(0);
      else expect(refusedForSegregation).toBe(0);
    });
  });
});
