import fc from 'fast-check';
import { neutralizeFormula, safeCsvStringifier } from '../../../src/http/csv-cells';

describe('CSV cells a spreadsheet would run', () => {
  it.each(['=1+1', '+x', '-x', '@SUM(A1)', '\tx', '\rx'])('%j gets a leading quote', (cell) => {
    expect(neutralizeFormula(cell)).toBe(`'${cell}`);
  });

  it('anything else is left as it is', () => {
    fc.assert(fc.property(fc.string().filter((s) => !/^[=+\-@\t\r]/.test(s)), (cell) => expect(neutralizeFormula(cell)).toBe(cell)));
  });

  it('no cell written by the stringifier starts a formula', async () => {
    const chunks: string[] = [];
    const csv = safeCsvStringifier({ header: true, columns: [{ key: 'comment', header: 'comment' }] });
    csv.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    const done = new Promise((resolve) => csv.on('end', resolve));
    for (const comment of ['=cmd', 'fine', '-2']) csv.write({ comment });
    csv.end();
    await done;
    expect(chunks.join('')).toBe("comment\n'=cmd\nfine\n'-2\n");
  });
});
