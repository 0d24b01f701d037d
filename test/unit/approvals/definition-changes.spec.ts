import { definitionChanges, type StreamEvent } from '../../../src/approvals/definition-changes';

const DEF = { name: 'Energy saved', unit: 'kWh', formula: 'baseline - measured', unitPriceMinor: 1250, currency: 'EUR', baseline: 120000 };
const MAKER = { id: 'u-maker', role: 'FINANCE' };
let clock = 0;
const at = () => new Date(Date.UTC(2026, 10, 1) + 60_000 * clock++).toISOString();
const event = (type: string, data: Record<string, unknown>, actor = MAKER): StreamEvent => ({ id: `e-${clock}`, type, occurredAt: at(), actor, data: { definitionId: 'd1', approvalId: 'd1', ...data } });
const drafted = () => event('approvals.definition-drafted', { draftedBy: MAKER.id, ...DEF });
const edited = (changes: Record<string, unknown>, by = MAKER) => event('approvals.definition-edited', { ...DEF, ...changes, changed: Object.keys(changes), editedBy: by.id }, by);
const submitted = (round: number) => event('approvals.submitted', { round, segregationOfDuties: true, submittedBy: MAKER.id });
const decided = (type: string, round: number, stage: string, userId: string, role: string) => event(type, { round, stage, decidedBy: { userId, role }, comment: null, reason: 'why' }, { id: userId, role });
const approvedRound = (round: number) => [
  decided('approvals.stage-approved', round, 'FINANCE', 'u-fin', 'FINANCE'),
  decided('approvals.stage-approved', round, 'TECHNICAL', 'u-tech', 'TECHNICAL'),
  decided('approvals.stage-approved', round, 'FINAL', 'u-owner', 'CUSTOMER_ADMIN'),
  event('approvals.completed', { round }),
];

describe("a definition's changes: given its stream, when finance asks for every change to a field, then each value with who set it and what the approval made of it", () => {
  it('given a draft at 1250 raised to 2500 before the first submission, which was approved, then both values were reviewed by round 1 only while they stood: 1250 never was, 2500 was approved by its three deciders', () => {
    const history = [drafted(), edited({ unitPriceMinor: 2500 }), submitted(1), ...approvedRound(1)];

    const changes = definitionChanges(history, 'unitPriceMinor');

    expect(changes.map(({ kind, from, to, by, outcome }) => ({ kind, from, to, by: by.userId, round: outcome.round, status: outcome.status }))).toEqual([
      { kind: 'drafted', from: null, to: 1250, by: MAKER.id, round: null, status: 'not-submitted' },
      { kind: 'edited', from: 1250, to: 2500, by: MAKER.id, round: 1, status: 'approved' },
    ]);
    expect(changes[1].outcome.decisions.map((d) => [d.stage, d.decision, d.userId, d.role])).toEqual([
      ['FINANCE', 'APPROVED', 'u-fin', 'FINANCE'],
      ['TECHNICAL', 'APPROVED', 'u-tech', 'TECHNICAL'],
      ['FINAL', 'APPROVED', 'u-owner', 'CUSTOMER_ADMIN'],
    ]);
  });

  it('given changes requested in round 1 and the price raised before round 2 was approved, then the old price keeps round 1 (sent back), the new one round 2 (approved), and an unchanged field is approved by round 2', () => {
    const history = [drafted(), submitted(1), decided('approvals.stage-approved', 1, 'FINANCE', 'u-fin', 'FINANCE'), decided('approvals.changes-requested', 1, 'TECHNICAL', 'u-tech', 'TECHNICAL'), edited({ unitPriceMinor: 2500 }), submitted(2), ...approvedRound(2)];

    const price = definitionChanges(history, 'unitPriceMinor');
    const currency = definitionChanges(history, 'currency');

    expect(price.map(({ to, outcome }) => ({ to, round: outcome.round, status: outcome.status, decisions: outcome.decisions.map((d) => d.decision) }))).toEqual([
      { to: 1250, round: 1, status: 'changes-requested', decisions: ['APPROVED', 'CHANGES_REQUESTED'] },
      { to: 2500, round: 2, status: 'approved', decisions: ['APPROVED', 'APPROVED', 'APPROVED'] },
    ]);
    expect(currency.map(({ kind, to, outcome }) => ({ kind, to, round: outcome.round, status: outcome.status }))).toEqual([{ kind: 'drafted', to: 'EUR', round: 2, status: 'approved' }]);
  });

  it('given an edit that is not yet submitted, a round in review and a rejected one, then each says so; without a field filter every field is listed', () => {
    const inReview = [drafted(), submitted(1), decided('approvals.stage-approved', 1, 'FINANCE', 'u-fin', 'FINANCE')];
    const rejected = [drafted(), submitted(1), decided('approvals.rejected', 1, 'FINANCE', 'u-fin', 'FINANCE')];
    const pending = [drafted(), submitted(1), decided('approvals.changes-requested', 1, 'FINANCE', 'u-fin', 'FINANCE'), edited({ baseline: 118000 }, { id: 'u-other', role: 'CUSTOMER_ADMIN' })];

    expect(definitionChanges(inReview, 'unitPriceMinor')[0].outcome).toMatchObject({ round: 1, status: 'in-review', submittedBy: MAKER.id });
    expect(definitionChanges(rejected, 'unitPriceMinor')[0].outcome.status).toBe('rejected');
    const baseline = definitionChanges(pending, 'baseline');
    expect(baseline.map(({ from, to, by, outcome }) => ({ from, to, by, round: outcome.round, status: outcome.status }))).toEqual([
      { from: null, to: 120000, by: { userId: MAKER.id, role: 'FINANCE' }, round: 1, status: 'changes-requested' },
      { from: 120000, to: 118000, by: { userId: 'u-other', role: 'CUSTOMER_ADMIN' }, round: null, status: 'not-submitted' },
    ]);
    expect(definitionChanges(pending).map((change) => change.field)).toEqual(['name', 'unit', 'formula', 'unitPriceMinor', 'currency', 'baseline', 'baseline']);
  });

  it('given the currency changed but not the price, then every price entry names the currency it was in', () => {
    const history = [drafted(), edited({ currency: 'JPY' })];
    expect(definitionChanges(history, 'unitPriceMinor').map((change) => [change.to, change.currency])).toEqual([[1250, 'EUR']]);
    expect(definitionChanges(history, 'currency').map((change) => [change.from, change.to, change.currency])).toEqual([
      [null, 'EUR', 'EUR'],
      ['EUR', 'JPY', 'JPY'],
    ]);
  });

  it('given v1 events that named no maker, then the envelope actor is the maker', () => {
    const v1 = [event('approvals.definition-drafted', { ...DEF }, { id: 'u-v1', role: 'ADMIN' }), event('approvals.definition-edited', { ...DEF, unitPriceMinor: 999 }, { id: 'u-v1b', role: 'FINANCE' })];
    expect(definitionChanges(v1, 'unitPriceMinor').map((change) => [change.by.userId, change.from, change.to])).toEqual([
      ['u-v1', null, 1250],
      ['u-v1b', 1250, 999],
    ]);
  });
});
