import { createHash } from 'node:crypto';
import { canonicalJson, upcast, type JsonObject } from '../../../contracts';
import type { ApprovalCommand } from '../../../src/approvals/decide';
import { approvalDecider } from '../../../src/approvals/approval.decider';
import { APPROVAL_EVENT_TYPES, APPROVAL_SCHEMA_VERSIONS, STAGE_ROLES, STAGES, type ApprovalEvent, type Decider as DecidedBy, type Stage, type ValueDefinition } from '../../../src/approvals/events';
import { definitionHash } from '../../../src/approvals/decide';
import { initialApprovalState, type ApprovalState } from '../../../src/approvals/state';
import { DomainError } from '../../../src/errors/proofline-error';
import { ROLES, type Role } from '../../../src/workspaces/events';
import { decide, givenWhenThen } from '../../support/given-when-then';
import { deepFreeze } from '../../support/deep-freeze';

const { given } = givenWhenThen(approvalDecider);

const DEFINITION_ID = 'def-1';
const APPROVAL_ID = 'ap-1';
const DEF: ValueDefinition = { name: 'Energy saved', unit: 'kWh', formula: 'baseline kWh − metered kWh, per month', unitPriceMinor: 1250, currency: 'EUR', baseline: 120000 };

// Who decides: a user id and the role they act in.
const as = (userId: string, role: Role): DecidedBy => ({ userId, role });
const FIN = as('u-fin', 'FINANCE');
const FIN2 = as('u-fin2', 'FINANCE');
const TECH = as('u-tech', 'TECHNICAL');
const TECH2 = as('u-tech2', 'TECHNICAL');
const ADMIN = as('u-admin', 'ADMIN');
const CA = as('u-ca', 'CUSTOMER_ADMIN');
/** One person who (after role changes) acts in several roles. */
const multi = (role: Role): DecidedBy => as('u-multi', role);

// Events
/** The maker of every definition below: drafts, edits and submits, and so decides no stage while segregation holds. */
const MAKER = 'u-maker';
/** When each stage was decided (the command's time). */
const AT = '2026-11-02T10:00:00.000Z';
const drafted = (definition: ValueDefinition = DEF, definitionId = DEFINITION_ID, draftedBy = MAKER): ApprovalEvent => ({ type: 'approvals.definition-drafted', data: { definitionId, draftedBy, ...definition } });
const edited = (changed: Array<keyof ValueDefinition>, definition: ValueDefinition, editedBy = MAKER): ApprovalEvent => ({ type: 'approvals.definition-edited', data: { definitionId: DEFINITION_ID, changed, editedBy, ...definition } });
const submitted = (round: number, segregationOfDuties = true, approvalId = APPROVAL_ID, submittedBy = MAKER): ApprovalEvent => ({
  type: 'approvals.submitted',
  data: { definitionId: DEFINITION_ID, approvalId, round, segregationOfDuties, submittedBy },
});
const roundOf = (round: number) => ({ definitionId: DEFINITION_ID, approvalId: APPROVAL_ID, round });
const stageApproved = (round: number, stage: Stage, decidedBy: DecidedBy, comment: string | null = null): ApprovalEvent => ({
  type: 'approvals.stage-approved',
  data: { ...roundOf(round), stage, decidedBy, comment, decidedAt: AT },
});
const changesRequested = (round: number, stage: Stage, decidedBy: DecidedBy, reason = 'needs work'): ApprovalEvent => ({
  type: 'approvals.changes-requested',
  data: { ...roundOf(round), stage, decidedBy, reason },
});
const rejectedAt = (round: number, stage: Stage, decidedBy: DecidedBy, reason = 'not worth it'): ApprovalEvent => ({ type: 'approvals.rejected', data: { ...roundOf(round), stage, decidedBy, reason } });
/** The completion names what was approved and every stage's decider in that round. */
const completed = (round: number, [finance, technical, final]: [DecidedBy, DecidedBy, DecidedBy], segregationOfDuties = true, definition: ValueDefinition = DEF): ApprovalEvent => ({
  type: 'approvals.completed',
  data: {
    ...roundOf(round),
    definitionHash: definitionHash(definition),
    definition,
    deciders: [
      { stage: 'FINANCE', ...finance, decidedAt: AT },
      { stage: 'TECHNICAL', ...technical, decidedAt: AT },
      { stage: 'FINAL', ...final, decidedAt: AT },
    ],
    segregationOfDuties,
  },
});

// Commands
const draftDefinition = (definition: ValueDefinition = DEF, definitionId = DEFINITION_ID, draftedBy = MAKER): ApprovalCommand => ({ type: 'DraftDefinition', definitionId, definition, draftedBy });
const edit = (changes: Partial<ValueDefinition>, editedBy = MAKER): ApprovalCommand => ({ type: 'EditDefinition', changes, editedBy });
const submit = (segregationOfDuties = true, approvalId = APPROVAL_ID, submittedBy = MAKER): ApprovalCommand => ({ type: 'Submit', approvalId, segregationOfDuties, submittedBy });
const approve = (stage: Stage, decidedBy: DecidedBy, comment: string | null = null): ApprovalCommand => ({ type: 'ApproveStage', stage, decidedBy, comment, decidedAt: AT });
const requestChanges = (stage: Stage, decidedBy: DecidedBy, reason = 'needs work'): ApprovalCommand => ({ type: 'RequestChanges', stage, decidedBy, reason });
const reject = (stage: Stage, decidedBy: DecidedBy, reason = 'not worth it'): ApprovalCommand => ({ type: 'Reject', stage, decidedBy, reason });

const ALREADY_EXISTS = { code: 'VALUE_DEFINITION.ALREADY_EXISTS', status: 409 } as const;
const NOT_FOUND = { code: 'VALUE_DEFINITION.NOT_FOUND', status: 404 } as const;
const NOT_EDITABLE = { code: 'VALUE_DEFINITION.NOT_EDITABLE', status: 409 } as const;
const NOT_SUBMITTABLE = { code: 'APPROVAL.NOT_SUBMITTABLE', status: 409 } as const;
const NOT_IN_REVIEW = { code: 'APPROVAL.NOT_IN_REVIEW', status: 409 } as const;
const OUT_OF_ORDER = { code: 'APPROVAL.STAGE_OUT_OF_ORDER', status: 409 } as const;
const WRONG_ROLE = { code: 'APPROVAL.WRONG_STAGE_ROLE', status: 403 } as const;
const SEGREGATION = { code: 'APPROVAL.SEGREGATION_OF_DUTIES', status: 403 } as const;

const EDITED_PRICE: ValueDefinition = { ...DEF, unitPriceMinor: 1500 };

/** Round 1 up to a stage, segregation on: FINANCE by u-fin, TECHNICAL by u-tech. */
const round1On = [drafted(), submitted(1, true)];
const round1OnAtTechnical = [...round1On, stageApproved(1, 'FINANCE', FIN)];
const round1OnAtFinal = [...round1OnAtTechnical, stageApproved(1, 'TECHNICAL', TECH)];
/** Round 1 up to a stage, segregation off: u-multi decided FINANCE (as FINANCE) and TECHNICAL (as TECHNICAL). */
const round1Off = [drafted(), submitted(1, false)];
const round1OffAtTechnical = [...round1Off, stageApproved(1, 'FINANCE', multi('FINANCE'))];
const round1OffAtFinal = [...round1OffAtTechnical, stageApproved(1, 'TECHNICAL', multi('TECHNICAL'))];
/** Round 1 (segregation on): u-fin approved FINANCE, u-tech asked for changes at TECHNICAL. Back to draft. */
const changesRequestedInRound1 = [...round1OnAtTechnical, changesRequested(1, 'TECHNICAL', TECH)];

const histories = {
  none: [] as ApprovalEvent[],
  'draft (round 0)': [drafted()],
  'draft (round 0), price edited': [drafted(), edited(['unitPriceMinor'], EDITED_PRICE)],
  'in review at FINANCE (round 1, segregation on)': round1On,
  'in review at TECHNICAL (round 1, segregation on)': round1OnAtTechnical,
  'in review at FINAL (round 1, segregation on)': round1OnAtFinal,
  'in review at FINANCE (round 1, segregation off)': round1Off,
  'in review at TECHNICAL (round 1, segregation off; u-multi decided FINANCE)': round1OffAtTechnical,
  'in review at FINAL (round 1, segregation off; u-multi decided FINANCE and TECHNICAL)': round1OffAtFinal,
  'draft after changes requested (round 1; u-fin decided FINANCE, u-tech TECHNICAL)': changesRequestedInRound1,
  'in review at FINANCE (round 2, segregation on)': [...changesRequestedInRound1, submitted(2, true)],
  'in review at TECHNICAL (round 2, segregation on; FINANCE by u-fin2)': [...changesRequestedInRound1, submitted(2, true), stageApproved(2, 'FINANCE', FIN2)],
  'in review at FINANCE (round 2, segregation off)': [...changesRequestedInRound1, submitted(2, false)],
  'in review at FINAL (round 2, segregation off; FINANCE by u-fin, TECHNICAL by u-tech)': [
    ...changesRequestedInRound1,
    submitted(2, false),
    stageApproved(2, 'FINANCE', FIN),
    stageApproved(2, 'TECHNICAL', TECH),
  ],
  'in review at FINANCE (round 2, segregation on; u-multi decided FINANCE and TECHNICAL in round 1 with it off)': [
    ...round1OffAtTechnical,
    changesRequested(1, 'TECHNICAL', multi('TECHNICAL')),
    submitted(2, true),
  ],
  approved: [...round1OnAtFinal, stageApproved(1, 'FINAL', ADMIN), completed(1, [FIN, TECH, ADMIN])],
  'approved in round 2': [...changesRequestedInRound1, submitted(2, true), stageApproved(2, 'FINANCE', FIN), stageApproved(2, 'TECHNICAL', TECH2), stageApproved(2, 'FINAL', CA), completed(2, [FIN, TECH2, CA])],
  'rejected at FINANCE': [...round1On, rejectedAt(1, 'FINANCE', FIN)],
  'rejected at FINAL': [...round1OnAtFinal, rejectedAt(1, 'FINAL', CA)],
};
type History = keyof typeof histories;

type Expected = readonly ApprovalEvent[] | { readonly code: string; readonly status: number };

interface Scenario {
  readonly given: History;
  readonly when: string;
  readonly command: ApprovalCommand;
  readonly then: Expected;
}

const scenario = (history: History, when: string, command: ApprovalCommand, then: Expected): Scenario => ({ given: history, when, command, then });

const IN_REVIEW: History[] = [
  'in review at FINANCE (round 1, segregation on)',
  'in review at TECHNICAL (round 1, segregation on)',
  'in review at FINAL (round 1, segregation on)',
  'in review at FINANCE (round 1, segregation off)',
  'in review at TECHNICAL (round 1, segregation off; u-multi decided FINANCE)',
  'in review at FINAL (round 1, segregation off; u-multi decided FINANCE and TECHNICAL)',
  'in review at FINANCE (round 2, segregation on)',
  'in review at TECHNICAL (round 2, segregation on; FINANCE by u-fin2)',
  'in review at FINANCE (round 2, segregation off)',
  'in review at FINAL (round 2, segregation off; FINANCE by u-fin, TECHNICAL by u-tech)',
];
const DECIDED: History[] = ['approved', 'approved in round 2', 'rejected at FINANCE', 'rejected at FINAL'];
const DRAFTS: History[] = ['draft (round 0)', 'draft (round 0), price edited', 'draft after changes requested (round 1; u-fin decided FINANCE, u-tech TECHNICAL)'];

const scenarios: Scenario[] = [
  // none: only a draft can start the stream
  scenario('none', 'DraftDefinition', draftDefinition(), [drafted()]),
  scenario('none', 'EditDefinition', edit({ name: 'Other' }), NOT_FOUND),
  scenario('none', 'Submit', submit(), NOT_FOUND),
  scenario('none', 'ApproveStage FINANCE', approve('FINANCE', FIN), NOT_FOUND),
  scenario('none', 'RequestChanges FINANCE', requestChanges('FINANCE', FIN), NOT_FOUND),
  scenario('none', 'Reject FINANCE', reject('FINANCE', FIN), NOT_FOUND),

  // drafts (round 0, and round 1 after changes were requested): edit and submit, no decisions
  ...DRAFTS.flatMap((history) => [
    scenario(history, 'DraftDefinition (same id)', draftDefinition(), ALREADY_EXISTS),
    scenario(history, 'DraftDefinition (another id)', draftDefinition(DEF, 'def-2'), ALREADY_EXISTS),
    scenario(history, 'ApproveStage FINANCE', approve('FINANCE', FIN), NOT_IN_REVIEW),
    scenario(history, 'RequestChanges FINANCE', requestChanges('FINANCE', FIN), NOT_IN_REVIEW),
    scenario(history, 'Reject FINANCE', reject('FINANCE', FIN), NOT_IN_REVIEW),
  ]),
  scenario('draft (round 0)', 'EditDefinition (name)', edit({ name: 'Energy avoided' }), [edited(['name'], { ...DEF, name: 'Energy avoided' })]),
  scenario('draft (round 0)', 'EditDefinition (several fields, listed in field order)', edit({ baseline: 1, currency: 'USD', name: 'X' }), [
    edited(['name', 'currency', 'baseline'], { ...DEF, name: 'X', currency: 'USD', baseline: 1 }),
  ]),
  scenario('draft (round 0)', 'EditDefinition (same values: no-op)', edit({ name: DEF.name, unitPriceMinor: DEF.unitPriceMinor }), []),
  scenario('draft (round 0)', 'EditDefinition (no changes: no-op)', edit({}), []),
  scenario('draft (round 0)', 'EditDefinition (one changed, one same: only the changed one is listed)', edit({ unit: 'MWh', formula: DEF.formula }), [edited(['unit'], { ...DEF, unit: 'MWh' })]),
  scenario('draft (round 0)', 'Submit (segregation on)', submit(true), [submitted(1, true)]),
  scenario('draft (round 0)', 'Submit (segregation off)', submit(false), [submitted(1, false)]),
  scenario('draft (round 0)', 'Submit (the command names the approval)', submit(true, 'ap-new'), [submitted(1, true, 'ap-new')]),
  scenario('draft (round 0), price edited', 'EditDefinition (price back)', edit({ unitPriceMinor: 1250 }), [edited(['unitPriceMinor'], DEF)]),
  scenario('draft (round 0), price edited', 'EditDefinition (the edited price again: no-op)', edit({ unitPriceMinor: 1500 }), []),
  scenario('draft (round 0), price edited', 'Submit', submit(), [submitted(1)]),
  scenario('draft after changes requested (round 1; u-fin decided FINANCE, u-tech TECHNICAL)', 'EditDefinition', edit({ baseline: 100000 }), [edited(['baseline'], { ...DEF, baseline: 100000 })]),
  scenario('draft after changes requested (round 1; u-fin decided FINANCE, u-tech TECHNICAL)', 'EditDefinition (no-op)', edit({ baseline: DEF.baseline }), []),
  scenario('draft after changes requested (round 1; u-fin decided FINANCE, u-tech TECHNICAL)', 'Submit: round 2, same approval', submit(true), [submitted(2, true)]),
  scenario('draft after changes requested (round 1; u-fin decided FINANCE, u-tech TECHNICAL)', 'Submit with another approval id: still the first approval', submit(true, 'ap-other'), [submitted(2, true, APPROVAL_ID)]),
  scenario('draft after changes requested (round 1; u-fin decided FINANCE, u-tech TECHNICAL)', 'Submit with segregation off: recorded for round 2', submit(false), [submitted(2, false)]),
  scenario('draft after changes requested (round 1; u-fin decided FINANCE, u-tech TECHNICAL)', 'ApproveStage TECHNICAL by the one who asked for changes', approve('TECHNICAL', TECH), NOT_IN_REVIEW),

  // in review (every stage, segregation on and off): no drafting, editing or resubmitting
  ...IN_REVIEW.flatMap((history) => [
    scenario(history, 'DraftDefinition', draftDefinition(), ALREADY_EXISTS),
    scenario(history, 'EditDefinition', edit({ name: 'Other' }), NOT_EDITABLE),
    scenario(history, 'EditDefinition (no-op is refused too)', edit({}), NOT_EDITABLE),
    scenario(history, 'Submit', submit(), NOT_SUBMITTABLE),
  ]),

  // in review at FINANCE (round 1, segregation on)
  scenario('in review at FINANCE (round 1, segregation on)', 'ApproveStage FINANCE by FINANCE', approve('FINANCE', FIN), [stageApproved(1, 'FINANCE', FIN)]),
  scenario('in review at FINANCE (round 1, segregation on)', 'ApproveStage FINANCE by FINANCE, with a comment', approve('FINANCE', FIN, 'numbers check out'), [
    stageApproved(1, 'FINANCE', FIN, 'numbers check out'),
  ]),
  scenario('in review at FINANCE (round 1, segregation on)', 'RequestChanges FINANCE by FINANCE', requestChanges('FINANCE', FIN, 'price too high'), [
    changesRequested(1, 'FINANCE', FIN, 'price too high'),
  ]),
  scenario('in review at FINANCE (round 1, segregation on)', 'Reject FINANCE by FINANCE', reject('FINANCE', FIN, 'no'), [rejectedAt(1, 'FINANCE', FIN, 'no')]),
  scenario('in review at FINANCE (round 1, segregation on)', 'ApproveStage TECHNICAL (FINANCE is due)', approve('TECHNICAL', TECH), OUT_OF_ORDER),
  scenario('in review at FINANCE (round 1, segregation on)', 'ApproveStage FINAL (FINANCE is due)', approve('FINAL', ADMIN), OUT_OF_ORDER),
  scenario('in review at FINANCE (round 1, segregation on)', 'RequestChanges TECHNICAL (FINANCE is due)', requestChanges('TECHNICAL', TECH), OUT_OF_ORDER),
  scenario('in review at FINANCE (round 1, segregation on)', 'Reject FINAL (FINANCE is due)', reject('FINAL', CA), OUT_OF_ORDER),
  scenario('in review at FINANCE (round 1, segregation on)', 'ApproveStage TECHNICAL by FINANCE (order is checked before role)', approve('TECHNICAL', FIN), OUT_OF_ORDER),
  scenario('in review at FINANCE (round 1, segregation on)', 'ApproveStage FINANCE by TECHNICAL', approve('FINANCE', TECH), WRONG_ROLE),
  scenario('in review at FINANCE (round 1, segregation on)', 'ApproveStage FINANCE by ADMIN', approve('FINANCE', ADMIN), WRONG_ROLE),

  // in review at TECHNICAL (round 1, segregation on; FINANCE by u-fin)
  scenario('in review at TECHNICAL (round 1, segregation on)', 'ApproveStage TECHNICAL by TECHNICAL', approve('TECHNICAL', TECH), [stageApproved(1, 'TECHNICAL', TECH)]),
  scenario('in review at TECHNICAL (round 1, segregation on)', 'RequestChanges TECHNICAL by TECHNICAL', requestChanges('TECHNICAL', TECH), [changesRequested(1, 'TECHNICAL', TECH)]),
  scenario('in review at TECHNICAL (round 1, segregation on)', 'Reject TECHNICAL by TECHNICAL', reject('TECHNICAL', TECH), [rejectedAt(1, 'TECHNICAL', TECH)]),
  scenario('in review at TECHNICAL (round 1, segregation on)', 'ApproveStage FINANCE again (already approved)', approve('FINANCE', FIN2), OUT_OF_ORDER),
  scenario('in review at TECHNICAL (round 1, segregation on)', 'ApproveStage FINAL (TECHNICAL is due)', approve('FINAL', ADMIN), OUT_OF_ORDER),
  scenario('in review at TECHNICAL (round 1, segregation on)', 'ApproveStage TECHNICAL by u-fin as FINANCE (role before segregation)', approve('TECHNICAL', FIN), WRONG_ROLE),
  scenario('in review at TECHNICAL (round 1, segregation on)', 'ApproveStage TECHNICAL by u-fin, now TECHNICAL (decided FINANCE)', approve('TECHNICAL', as('u-fin', 'TECHNICAL')), SEGREGATION),
  scenario('in review at TECHNICAL (round 1, segregation on)', 'RequestChanges TECHNICAL by u-fin, now TECHNICAL', requestChanges('TECHNICAL', as('u-fin', 'TECHNICAL')), SEGREGATION),
  scenario('in review at TECHNICAL (round 1, segregation on)', 'Reject TECHNICAL by u-fin, now TECHNICAL', reject('TECHNICAL', as('u-fin', 'TECHNICAL')), SEGREGATION),

  // in review at FINAL (round 1, segregation on; FINANCE by u-fin, TECHNICAL by u-tech)
  scenario('in review at FINAL (round 1, segregation on)', 'ApproveStage FINAL by ADMIN: approved and completed', approve('FINAL', ADMIN), [stageApproved(1, 'FINAL', ADMIN), completed(1, [FIN, TECH, ADMIN])]),
  scenario('in review at FINAL (round 1, segregation on)', 'ApproveStage FINAL by CUSTOMER_ADMIN: approved and completed', approve('FINAL', CA, 'go'), [stageApproved(1, 'FINAL', CA, 'go'), completed(1, [FIN, TECH, CA])]),
  scenario('in review at FINAL (round 1, segregation on)', 'RequestChanges FINAL by ADMIN', requestChanges('FINAL', ADMIN), [changesRequested(1, 'FINAL', ADMIN)]),
  scenario('in review at FINAL (round 1, segregation on)', 'Reject FINAL by CUSTOMER_ADMIN', reject('FINAL', CA), [rejectedAt(1, 'FINAL', CA)]),
  scenario('in review at FINAL (round 1, segregation on)', 'ApproveStage TECHNICAL again', approve('TECHNICAL', TECH), OUT_OF_ORDER),
  scenario('in review at FINAL (round 1, segregation on)', 'ApproveStage FINANCE again', approve('FINANCE', FIN), OUT_OF_ORDER),
  scenario('in review at FINAL (round 1, segregation on)', 'ApproveStage FINAL by TECHNICAL', approve('FINAL', TECH2), WRONG_ROLE),
  scenario('in review at FINAL (round 1, segregation on)', 'ApproveStage FINAL by u-fin, now ADMIN (decided FINANCE)', approve('FINAL', as('u-fin', 'ADMIN')), SEGREGATION),
  scenario('in review at FINAL (round 1, segregation on)', 'ApproveStage FINAL by u-tech, now CUSTOMER_ADMIN (decided TECHNICAL)', approve('FINAL', as('u-tech', 'CUSTOMER_ADMIN')), SEGREGATION),
  scenario('in review at FINAL (round 1, segregation on)', 'Reject FINAL by u-tech, now CUSTOMER_ADMIN', reject('FINAL', as('u-tech', 'CUSTOMER_ADMIN')), SEGREGATION),

  // segregation off: one person may decide several stages, but order and roles still hold
  scenario('in review at FINANCE (round 1, segregation off)', 'ApproveStage FINANCE by u-multi as FINANCE', approve('FINANCE', multi('FINANCE')), [stageApproved(1, 'FINANCE', multi('FINANCE'))]),
  scenario('in review at FINANCE (round 1, segregation off)', 'RequestChanges FINANCE', requestChanges('FINANCE', FIN), [changesRequested(1, 'FINANCE', FIN)]),
  scenario('in review at FINANCE (round 1, segregation off)', 'Reject FINANCE', reject('FINANCE', FIN), [rejectedAt(1, 'FINANCE', FIN)]),
  scenario('in review at FINANCE (round 1, segregation off)', 'ApproveStage FINAL (FINANCE is due)', approve('FINAL', ADMIN), OUT_OF_ORDER),
  scenario('in review at FINANCE (round 1, segregation off)', 'ApproveStage FINANCE by AUDITOR', approve('FINANCE', as('u-aud', 'AUDITOR')), WRONG_ROLE),
  scenario('in review at TECHNICAL (round 1, segregation off; u-multi decided FINANCE)', 'ApproveStage TECHNICAL by u-multi as TECHNICAL', approve('TECHNICAL', multi('TECHNICAL')), [
    stageApproved(1, 'TECHNICAL', multi('TECHNICAL')),
  ]),
  scenario('in review at TECHNICAL (round 1, segregation off; u-multi decided FINANCE)', 'RequestChanges TECHNICAL by u-multi as TECHNICAL', requestChanges('TECHNICAL', multi('TECHNICAL')), [
    changesRequested(1, 'TECHNICAL', multi('TECHNICAL')),
  ]),
  scenario('in review at TECHNICAL (round 1, segregation off; u-multi decided FINANCE)', 'Reject TECHNICAL by u-multi as TECHNICAL', reject('TECHNICAL', multi('TECHNICAL')), [
    rejectedAt(1, 'TECHNICAL', multi('TECHNICAL')),
  ]),
  scenario('in review at TECHNICAL (round 1, segregation off; u-multi decided FINANCE)', 'ApproveStage TECHNICAL by u-multi as FINANCE', approve('TECHNICAL', multi('FINANCE')), WRONG_ROLE),
  scenario('in review at TECHNICAL (round 1, segregation off; u-multi decided FINANCE)', 'ApproveStage FINAL (TECHNICAL is due)', approve('FINAL', multi('ADMIN')), OUT_OF_ORDER),
  scenario('in review at FINAL (round 1, segregation off; u-multi decided FINANCE and TECHNICAL)', 'ApproveStage FINAL by u-multi as ADMIN: one person, three stages', approve('FINAL', multi('ADMIN')), [
    stageApproved(1, 'FINAL', multi('ADMIN')),
    completed(1, [multi('FINANCE'), multi('TECHNICAL'), multi('ADMIN')], false),
  ]),
  scenario('in review at FINAL (round 1, segregation off; u-multi decided FINANCE and TECHNICAL)', 'RequestChanges FINAL by u-multi as CUSTOMER_ADMIN', requestChanges('FINAL', multi('CUSTOMER_ADMIN')), [
    changesRequested(1, 'FINAL', multi('CUSTOMER_ADMIN')),
  ]),
  scenario('in review at FINAL (round 1, segregation off; u-multi decided FINANCE and TECHNICAL)', 'Reject FINAL by ADMIN', reject('FINAL', ADMIN), [rejectedAt(1, 'FINAL', ADMIN)]),
  scenario('in review at FINAL (round 1, segregation off; u-multi decided FINANCE and TECHNICAL)', 'ApproveStage FINAL by u-multi as TECHNICAL', approve('FINAL', multi('TECHNICAL')), WRONG_ROLE),
  scenario('in review at FINAL (round 1, segregation off; u-multi decided FINANCE and TECHNICAL)', 'ApproveStage TECHNICAL again', approve('TECHNICAL', multi('TECHNICAL')), OUT_OF_ORDER),

  // round 2 (segregation on): round-1 deciders are remembered; re-deciding one's own stage is fine
  scenario('in review at FINANCE (round 2, segregation on)', 'ApproveStage FINANCE by u-fin again (same stage as round 1)', approve('FINANCE', FIN), [stageApproved(2, 'FINANCE', FIN)]),
  scenario('in review at FINANCE (round 2, segregation on)', 'ApproveStage FINANCE by someone new', approve('FINANCE', FIN2), [stageApproved(2, 'FINANCE', FIN2)]),
  scenario('in review at FINANCE (round 2, segregation on)', 'ApproveStage FINANCE by u-tech, now FINANCE (decided TECHNICAL in round 1)', approve('FINANCE', as('u-tech', 'FINANCE')), SEGREGATION),
  scenario('in review at FINANCE (round 2, segregation on)', 'RequestChanges FINANCE by u-fin', requestChanges('FINANCE', FIN), [changesRequested(2, 'FINANCE', FIN)]),
  scenario('in review at FINANCE (round 2, segregation on)', 'Reject FINANCE by u-fin', reject('FINANCE', FIN), [rejectedAt(2, 'FINANCE', FIN)]),
  scenario('in review at FINANCE (round 2, segregation on)', 'ApproveStage TECHNICAL (FINANCE is due again)', approve('TECHNICAL', TECH), OUT_OF_ORDER),
  scenario('in review at TECHNICAL (round 2, segregation on; FINANCE by u-fin2)', 'ApproveStage TECHNICAL by u-tech again (asked for changes there in round 1)', approve('TECHNICAL', TECH), [
    stageApproved(2, 'TECHNICAL', TECH),
  ]),
  scenario('in review at TECHNICAL (round 2, segregation on; FINANCE by u-fin2)', 'ApproveStage TECHNICAL by u-fin, now TECHNICAL (decided FINANCE in round 1)', approve('TECHNICAL', as('u-fin', 'TECHNICAL')), SEGREGATION),
  scenario('in review at TECHNICAL (round 2, segregation on; FINANCE by u-fin2)', 'ApproveStage TECHNICAL by u-fin2, now TECHNICAL (decided FINANCE in round 2)', approve('TECHNICAL', as('u-fin2', 'TECHNICAL')), SEGREGATION),
  scenario('in review at TECHNICAL (round 2, segregation on; FINANCE by u-fin2)', 'RequestChanges TECHNICAL by u-tech2', requestChanges('TECHNICAL', TECH2), [changesRequested(2, 'TECHNICAL', TECH2)]),
  scenario('in review at TECHNICAL (round 2, segregation on; FINANCE by u-fin2)', 'Reject TECHNICAL by u-tech2', reject('TECHNICAL', TECH2), [rejectedAt(2, 'TECHNICAL', TECH2)]),
  scenario('in review at FINANCE (round 2, segregation on; u-multi decided FINANCE and TECHNICAL in round 1 with it off)', 'ApproveStage FINANCE by u-multi', approve('FINANCE', multi('FINANCE')), SEGREGATION),
  scenario('in review at FINANCE (round 2, segregation on; u-multi decided FINANCE and TECHNICAL in round 1 with it off)', 'ApproveStage FINANCE by u-fin', approve('FINANCE', FIN), [stageApproved(2, 'FINANCE', FIN)]),

  // round 2 (segregation off): the round's own policy applies
  scenario('in review at FINANCE (round 2, segregation off)', 'ApproveStage FINANCE by u-tech, now FINANCE (decided TECHNICAL in round 1)', approve('FINANCE', as('u-tech', 'FINANCE')), [
    stageApproved(2, 'FINANCE', as('u-tech', 'FINANCE')),
  ]),
  scenario('in review at FINANCE (round 2, segregation off)', 'RequestChanges FINANCE', requestChanges('FINANCE', FIN2), [changesRequested(2, 'FINANCE', FIN2)]),
  scenario('in review at FINANCE (round 2, segregation off)', 'Reject FINANCE', reject('FINANCE', FIN2), [rejectedAt(2, 'FINANCE', FIN2)]),
  scenario('in review at FINAL (round 2, segregation off; FINANCE by u-fin, TECHNICAL by u-tech)', 'ApproveStage FINAL by u-fin, now ADMIN', approve('FINAL', as('u-fin', 'ADMIN')), [
    stageApproved(2, 'FINAL', as('u-fin', 'ADMIN')),
    completed(2, [FIN, TECH, as('u-fin', 'ADMIN')], false),
  ]),
  scenario('in review at FINAL (round 2, segregation off; FINANCE by u-fin, TECHNICAL by u-tech)', 'RequestChanges FINAL', requestChanges('FINAL', CA), [changesRequested(2, 'FINAL', CA)]),
  scenario('in review at FINAL (round 2, segregation off; FINANCE by u-fin, TECHNICAL by u-tech)', 'Reject FINAL', reject('FINAL', CA), [rejectedAt(2, 'FINAL', CA)]),
  scenario('in review at FINAL (round 2, segregation off; FINANCE by u-fin, TECHNICAL by u-tech)', 'ApproveStage FINAL by FINANCE', approve('FINAL', FIN), WRONG_ROLE),

  // approved and rejected: final, nothing is accepted
  ...DECIDED.flatMap((history) => [
    scenario(history, 'DraftDefinition', draftDefinition(), ALREADY_EXISTS),
    scenario(history, 'EditDefinition', edit({ name: 'Other' }), NOT_EDITABLE),
    scenario(history, 'EditDefinition (no-op)', edit({}), NOT_EDITABLE),
    scenario(history, 'Submit', submit(), NOT_SUBMITTABLE),
    ...STAGES.flatMap((stage) => [
      scenario(history, `ApproveStage ${stage}`, approve(stage, { FINANCE: FIN2, TECHNICAL: TECH2, FINAL: ADMIN }[stage]), NOT_IN_REVIEW),
      scenario(history, `RequestChanges ${stage}`, requestChanges(stage, { FINANCE: FIN2, TECHNICAL: TECH2, FINAL: ADMIN }[stage]), NOT_IN_REVIEW),
      scenario(history, `Reject ${stage}`, reject(stage, { FINANCE: FIN2, TECHNICAL: TECH2, FINAL: ADMIN }[stage]), NOT_IN_REVIEW),
    ]),
    scenario(history, 'ApproveStage FINANCE by AUDITOR (not in review is checked first)', approve('FINANCE', as('u-aud', 'AUDITOR')), NOT_IN_REVIEW),
  ]),
];

const describeThen = (then: Expected) => ('code' in then ? `${then.code} (${then.status})` : `[${then.map((event) => event.type).join(', ')}]`);

/** The states the coverage check distinguishes. */
function stateKey(state: ApprovalState): string {
  switch (state.status) {
    case 'none':
    case 'approved':
    case 'rejected':
      return state.status;
    case 'draft':
      return 'draft (round 0)';
    case 'changes-requested':
      return 'draft after changes requested';
    case 'in-review':
      return `in review at ${state.stage}, segregation ${state.segregationOfDuties ? 'on' : 'off'}`;
  }
}

describe('approval aggregate: given events, when command, then events | error code', () => {
  it.each(scenarios.map((s) => [s.given, s.when, describeThen(s.then), s] as const))('given %s, when %s, then %s', (_given, _when, _then, s) => {
    const step = given(histories[s.given]).when(s.command);
    if ('code' in s.then) step.thenRejects(s.then.code, s.then.status);
    else step.then(s.then);
  });

  it('covers every state × every command, with segregation on and off', () => {
    const commandTypes = new Set<ApprovalCommand['type']>(['DraftDefinition', 'EditDefinition', 'Submit', 'ApproveStage', 'RequestChanges', 'Reject']);
    const states = [
      'none',
      'draft (round 0)',
      'draft after changes requested',
      ...STAGES.flatMap((stage) => [`in review at ${stage}, segregation on`, `in review at ${stage}, segregation off`]),
      'approved',
      'rejected',
    ];
    const covered = new Map<string, Set<string>>();
    for (const s of scenarios) {
      const key = stateKey(given(histories[s.given]).state);
      covered.set(key, (covered.get(key) ?? new Set()).add(s.command.type));
    }
    expect([...covered.keys()].sort()).toEqual([...states].sort());
    for (const state of states) expect({ state, commands: covered.get(state) }).toEqual({ state, commands: commandTypes });
  });

  it('every history is used by a scenario', () => {
    const used = new Set(scenarios.map((s) => s.given));
    expect(Object.keys(histories).filter((history) => !used.has(history as History))).toEqual([]);
  });

  describe('stage × role × decision: only the roles in STAGE_ROLES decide a stage', () => {
    const reviewAt: Record<Stage, History> = {
      FINANCE: 'in review at FINANCE (round 1, segregation on)',
      TECHNICAL: 'in review at TECHNICAL (round 1, segregation on)',
      FINAL: 'in review at FINAL (round 1, segregation on)',
    };
    const decisions = {
      ApproveStage: (stage: Stage, by: DecidedBy) => approve(stage, by),
      RequestChanges: (stage: Stage, by: DecidedBy) => requestChanges(stage, by),
      Reject: (stage: Stage, by: DecidedBy) => reject(stage, by),
    };
    const cells = STAGES.flatMap((stage) =>
      ROLES.flatMap((role) => (Object.keys(decisions) as Array<keyof typeof decisions>).map((decision) => [stage, role, decision, STAGE_ROLES[stage].includes(role)] as const)),
    );

    it('STAGE_ROLES: FINANCE by FINANCE, TECHNICAL by TECHNICAL, FINAL by ADMIN or CUSTOMER_ADMIN; AUDITOR decides nothing', () => {
      expect(STAGE_ROLES).toEqual({ FINANCE: ['FINANCE'], TECHNICAL: ['TECHNICAL'], FINAL: ['ADMIN', 'CUSTOMER_ADMIN'] });
      expect(cells.filter(([, , , allowed]) => !allowed)).toHaveLength(STAGES.length * 3 * ROLES.length - 4 * 3);
    });

    it.each(cells)('%s stage, a %s deciding (%s): allowed = %s', (stage, role, decision, allowed) => {
      const by = as('u-new', role);
      const step = given(histories[reviewAt[stage]]).when(decisions[decision](stage, by));
      if (!allowed) {
        const error = step.thenRejects(WRONG_ROLE.code, WRONG_ROLE.status);
        expect(error.details).toEqual({ stage, allowedRoles: STAGE_ROLES[stage], role });
        return;
      }
      if (!('events' in step.outcome)) throw new Error(`expected events, got ${step.outcome.rejected.code}`);
      expect(step.outcome.events[0]).toMatchObject({ data: { stage, decidedBy: by, round: 1 } });
    });
  });

  describe('error details', () => {
    it('ALREADY_EXISTS names the definition id of the command', () => {
      const error = given(histories['draft (round 0)']).when(draftDefinition(DEF, 'def-9')).thenRejects(ALREADY_EXISTS.code, 409);
      expect(error).toBeInstanceOf(DomainError);
      expect(error.details).toEqual({ definitionId: 'def-9' });
    });

    it('NOT_FOUND carries no details', () => {
      expect(given([]).when(submit()).thenRejects(NOT_FOUND.code, 404).details).toEqual({});
    });

    it('NOT_EDITABLE, NOT_SUBMITTABLE and NOT_IN_REVIEW name the status', () => {
      expect(given(histories.approved).when(edit({ name: 'x' })).thenRejects(NOT_EDITABLE.code, 409).details).toEqual({ status: 'approved' });
      expect(given(histories['in review at FINAL (round 1, segregation on)']).when(submit()).thenRejects(NOT_SUBMITTABLE.code, 409).details).toEqual({ status: 'in-review' });
      expect(given(histories['rejected at FINANCE']).when(approve('FINANCE', FIN)).thenRejects(NOT_IN_REVIEW.code, 409).details).toEqual({ status: 'rejected' });
      expect(given(histories['draft (round 0)']).when(reject('FINANCE', FIN)).thenRejects(NOT_IN_REVIEW.code, 409).details).toEqual({ status: 'draft' });
    });

    it('STAGE_OUT_OF_ORDER names the stage due and the one asked for', () => {
      const error = given(histories['in review at FINANCE (round 1, segregation on)']).when(approve('TECHNICAL', TECH)).thenRejects(OUT_OF_ORDER.code, 409);
      expect(error.details).toEqual({ expectedStage: 'FINANCE', stage: 'TECHNICAL' });
      expect(error.message).toContain('FINANCE → TECHNICAL → FINAL');
    });

    it('SEGREGATION_OF_DUTIES names the stages the user decided before, across rounds', () => {
      const error = given(histories['in review at FINANCE (round 2, segregation on)']).when(approve('FINANCE', as('u-tech', 'FINANCE'))).thenRejects(SEGREGATION.code, 403);
      expect(error.details).toEqual({ stage: 'FINANCE', decidedStages: ['TECHNICAL'] });
      const both = given(histories['in review at FINANCE (round 2, segregation on; u-multi decided FINANCE and TECHNICAL in round 1 with it off)'])
        .when(approve('FINANCE', multi('FINANCE')))
        .thenRejects(SEGREGATION.code, 403);
      expect(both.details).toEqual({ stage: 'FINANCE', decidedStages: ['TECHNICAL'] });
    });
  });

  describe('state', () => {
    it('a draft: round 0, no approval yet, segregation on by default', () => {
      expect(given(histories['draft (round 0), price edited']).state).toEqual({
        status: 'draft',
        definitionId: DEFINITION_ID,
        definition: EDITED_PRICE,
        approvalId: null,
        round: 0,
        stage: null,
        segregationOfDuties: true,
        stagesDecidedBy: {},
        makers: { [MAKER]: ['drafted', 'edited'] },
        approvedBy: {},
      });
    });

    it('changes requested: editable and submittable again, said as in the finance list, same approval and round, earlier deciders kept', () => {
      expect(given(histories['draft after changes requested (round 1; u-fin decided FINANCE, u-tech TECHNICAL)']).state).toEqual({
        status: 'changes-requested',
        definitionId: DEFINITION_ID,
        definition: DEF,
        approvalId: APPROVAL_ID,
        round: 1,
        stage: null,
        segregationOfDuties: true,
        stagesDecidedBy: { 'u-fin': ['FINANCE'], 'u-tech': ['TECHNICAL'] },
        makers: { [MAKER]: ['drafted', 'submitted'] },
        approvedBy: { FINANCE: { stage: 'FINANCE', ...FIN, decidedAt: AT } },
      });
    });

    it('the next submission starts round 2 at FINANCE with no approvals yet, keeping who decided what', () => {
      expect(given(histories['in review at FINANCE (round 2, segregation off)']).state).toMatchObject({
        status: 'in-review',
        approvalId: APPROVAL_ID,
        round: 2,
        stage: 'FINANCE',
        segregationOfDuties: false,
        stagesDecidedBy: { 'u-fin': ['FINANCE'], 'u-tech': ['TECHNICAL'] },
        approvedBy: {},
      });
    });

    it('approved in round 2: each approver of the round, each decider once per stage', () => {
      expect(given(histories['approved in round 2']).state).toMatchObject({
        status: 'approved',
        round: 2,
        stage: null,
        stagesDecidedBy: { 'u-fin': ['FINANCE'], 'u-tech': ['TECHNICAL'], 'u-tech2': ['TECHNICAL'], 'u-ca': ['FINAL'] },
        approvedBy: { FINANCE: { stage: 'FINANCE', ...FIN, decidedAt: AT }, TECHNICAL: { stage: 'TECHNICAL', ...TECH2, decidedAt: AT }, FINAL: { stage: 'FINAL', ...CA, decidedAt: AT } },
      });
    });

    it('one person deciding several stages (segregation off) is recorded for each', () => {
      expect(given(histories['in review at FINAL (round 1, segregation off; u-multi decided FINANCE and TECHNICAL)']).state).toMatchObject({
        stage: 'FINAL',
        stagesDecidedBy: { 'u-multi': ['FINANCE', 'TECHNICAL'] },
      });
    });

    it('ignores events before the definition is drafted', () => {
      expect(given([submitted(1), stageApproved(1, 'FINANCE', FIN), completed(1, [FIN, TECH, ADMIN])]).state).toEqual(initialApprovalState);
    });

    it('decide does not mutate the state it is given', () => {
      for (const history of Object.keys(histories) as History[]) {
        const state = deepFreeze(given(histories[history]).state);
        const before = JSON.stringify(state);
        for (const s of scenarios) expect(() => decide(approvalDecider, s.command, state)).not.toThrow();
        expect(JSON.stringify(state)).toBe(before);
      }
    });
  });

  describe('decider', () => {
    it('is the valuedef stream; drafted, edited, submitted, stage-approved and completed are at version 2', () => {
      expect(approvalDecider.category).toBe('valuedef');
      expect(approvalDecider.schemaVersions).toBe(APPROVAL_SCHEMA_VERSIONS);
      expect(APPROVAL_SCHEMA_VERSIONS).toEqual({
        'approvals.definition-drafted': 2,
        'approvals.definition-edited': 2,
        'approvals.submitted': 2,
        'approvals.stage-approved': 2,
        'approvals.changes-requested': 1,
        'approvals.rejected': 1,
        'approvals.completed': 2,
      });
      expect(APPROVAL_EVENT_TYPES).toHaveLength(7);
    });

    it('reads version 1 events: the maker and the decision time from the signed envelope; a v1 completion names nothing it did not record', () => {
      const context = { actor: { id: 'u-old', role: 'FINANCE' }, occurredAt: '2026-01-05T09:00:00.000Z' };
      const v1 = (type: string, data: Record<string, unknown>) => upcast(approvalDecider.upcasters, type, 1, data as JsonObject, context);
      const { definitionId: _id, draftedBy: _by, ...definition } = drafted().data as { definitionId: string; draftedBy: string };
      expect(v1('approvals.definition-drafted', { definitionId: DEFINITION_ID, ...definition })).toEqual({ schemaVersion: 2, data: { definitionId: DEFINITION_ID, draftedBy: 'u-old', ...definition } });
      expect(v1('approvals.definition-edited', { definitionId: DEFINITION_ID, changed: ['name'], ...definition }).data).toMatchObject({ editedBy: 'u-old' });
      expect(v1('approvals.submitted', { ...roundOf(1), segregationOfDuties: true }).data).toEqual({ ...roundOf(1), segregationOfDuties: true, submittedBy: 'u-old' });
      expect(v1('approvals.stage-approved', { ...roundOf(1), stage: 'FINANCE', decidedBy: FIN, comment: null }).data).toMatchObject({ decidedAt: context.occurredAt });
      expect(v1('approvals.completed', roundOf(1))).toEqual({ schemaVersion: 2, data: { ...roundOf(1), definitionHash: null, definition: null, deciders: null, segregationOfDuties: null } });
      expect(v1('approvals.changes-requested', { ...roundOf(1), stage: 'FINANCE', decidedBy: FIN, reason: 'x' }).schemaVersion).toBe(1);
    });
  });

  describe('the completion says what was approved (issue 24, item 1)', () => {
    it('the definition, its canonical hash, the three deciders with their roles and times, the round and the segregation flag', () => {
      const atFinal = [...round1OnAtFinal];
      const step = given(atFinal).when({ type: 'ApproveStage', stage: 'FINAL', decidedBy: CA, comment: null, decidedAt: '2026-11-03T08:00:00.000Z' });
      if (!('events' in step.outcome)) throw new Error('expected events');
      expect(step.outcome.events[1]).toEqual({
        type: 'approvals.completed',
        data: {
          ...roundOf(1),
          definitionHash: `sha256:${createHash('sha256').update(canonicalJson(DEF)).digest('hex')}`,
          definition: DEF,
          deciders: [
            { stage: 'FINANCE', userId: 'u-fin', role: 'FINANCE', decidedAt: AT },
            { stage: 'TECHNICAL', userId: 'u-tech', role: 'TECHNICAL', decidedAt: AT },
            { stage: 'FINAL', userId: 'u-ca', role: 'CUSTOMER_ADMIN', decidedAt: '2026-11-03T08:00:00.000Z' },
          ],
          segregationOfDuties: true,
        },
      });
    });

    it('after a price change in round 2, the completion carries the new price and the round-2 deciders only', () => {
      const history = [...changesRequestedInRound1, edited(['unitPriceMinor'], { ...DEF, unitPriceMinor: 2500 }), submitted(2), stageApproved(2, 'FINANCE', FIN2), stageApproved(2, 'TECHNICAL', TECH2)];
      given(history)
        .when(approve('FINAL', CA))
        .then([stageApproved(2, 'FINAL', CA), completed(2, [FIN2, TECH2, CA], true, { ...DEF, unitPriceMinor: 2500 })]);
    });
  });

  describe('maker-checker (issue 24, item 2): whoever drafted, edited or submitted may not decide while segregation holds', () => {
    const MAKER_CANNOT_DECIDE = { code: 'APPROVAL.MAKER_CANNOT_DECIDE', status: 403 } as const;
    const FINANCE_MAKER = as('u-fm', 'FINANCE');

    it("the issue's scenario: finance drafts at 1250 and may not approve FINANCE; after TECHNICAL asks for changes they raise the price to 2500 and resubmit, and still may not", () => {
      const draftedByFinance = [drafted(DEF, DEFINITION_ID, 'u-fm'), submitted(1, true, APPROVAL_ID, 'u-fm')];
      const error = given(draftedByFinance).when(approve('FINANCE', FINANCE_MAKER)).thenRejects(MAKER_CANNOT_DECIDE.code, 403);
      expect(error.details).toEqual({ stage: 'FINANCE', authored: ['drafted', 'submitted'] });
      // (a colleague approved FINANCE, TECHNICAL asked for changes)
      const round2 = [
        ...draftedByFinance,
        stageApproved(1, 'FINANCE', FIN2),
        changesRequested(1, 'TECHNICAL', TECH),
        edited(['unitPriceMinor'], { ...DEF, unitPriceMinor: 2500 }, 'u-fm'),
        submitted(2, true, APPROVAL_ID, 'u-fm'),
      ];
      given(round2).when(approve('FINANCE', FINANCE_MAKER)).thenRejects(MAKER_CANNOT_DECIDE.code, 403);
      given(round2).when(requestChanges('FINANCE', FINANCE_MAKER)).thenRejects(MAKER_CANNOT_DECIDE.code, 403);
      given(round2).when(reject('FINANCE', FINANCE_MAKER)).thenRejects(MAKER_CANNOT_DECIDE.code, 403);
      given(round2).when(approve('FINANCE', FIN2)).then([stageApproved(2, 'FINANCE', FIN2)]);
    });

    it('an editor or a submitter who did not draft is a maker too, at every stage (also FINAL)', () => {
      const editedBy = [drafted(), edited(['name'], { ...DEF, name: 'Energy avoided' }, 'u-ca'), submitted(1, true, APPROVAL_ID, 'u-tech')];
      given(editedBy).when(approve('FINANCE', FIN)).then([stageApproved(1, 'FINANCE', FIN)]);
      given([...editedBy, stageApproved(1, 'FINANCE', FIN)]).when(approve('TECHNICAL', TECH)).thenRejects(MAKER_CANNOT_DECIDE.code, 403);
      const atFinal = [...editedBy, stageApproved(1, 'FINANCE', FIN), stageApproved(1, 'TECHNICAL', TECH2)];
      expect(given(atFinal).when(approve('FINAL', CA)).thenRejects(MAKER_CANNOT_DECIDE.code, 403).details).toEqual({ stage: 'FINAL', authored: ['edited'] });
      given(atFinal).when(approve('FINAL', ADMIN)).then([stageApproved(1, 'FINAL', ADMIN), completed(1, [FIN, TECH2, ADMIN], true, { ...DEF, name: 'Energy avoided' })]);
    });

    it('an edit that changes nothing records nothing and makes no maker', () => {
      given([drafted()]).when(edit({ name: DEF.name }, 'u-fin')).then([]);
      given([drafted(), submitted(1)]).when(approve('FINANCE', FIN)).then([stageApproved(1, 'FINANCE', FIN)]);
    });

    it('with segregation off in the round, a maker may decide (the policy that turned it off is an ADMIN decision with a reason)', () => {
      given([drafted(DEF, DEFINITION_ID, 'u-fm'), submitted(1, false, APPROVAL_ID, 'u-fm')])
        .when(approve('FINANCE', FINANCE_MAKER))
        .then([stageApproved(1, 'FINANCE', FINANCE_MAKER)]);
    });

    it('order and role are checked before the maker rule', () => {
      const draftedByFinance = [drafted(DEF, DEFINITION_ID, 'u-fm'), submitted(1, true, APPROVAL_ID, 'u-fm')];
      given(draftedByFinance).when(approve('TECHNICAL', as('u-fm', 'TECHNICAL'))).thenRejects(OUT_OF_ORDER.code, 409);
      given(draftedByFinance).when(approve('FINANCE', as('u-fm', 'AUDITOR'))).thenRejects(WRONG_ROLE.code, 403);
    });
  });
});
