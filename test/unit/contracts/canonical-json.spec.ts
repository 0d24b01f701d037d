import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { canonicalJson } from '../../../contracts/canonical-json';

// Every vector here is published data (see contracts/vectors/rfc8785/README.md); hashes and
// signatures depend on these exact bytes, so expectations are compared as bytes, never re-derived.
const VECTORS = join(__dirname, '../../../contracts/vectors/rfc8785');
const read = (...parts: string[]): Buffer => readFileSync(join(VECTORS, ...parts));
const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');
const fromHexDump = (dump: string): Buffer => Buffer.from(dump.replace(/\s+/g, ''), 'hex');

function doubleFromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

function csvRows(...parts: string[]): string[][] {
  const [, ...rows] = read(...parts).toString('utf8').trimEnd().split('\n');
  return rows.map((row) => row.split(','));
}

describe('canonicalJson — RFC 8785 conformance', () => {
  describe('cyberphone/json-canonicalization testdata', () => {
    const names = readdirSync(join(VECTORS, 'cyberphone/input')).map((file) => file.replace(/\.json$/, ''));

    it('has all six published vectors', () => {
      expect(names.sort()).toEqual(['arrays', 'french', 'structures', 'unicode', 'values', 'weird']);
    });

    it.each(names)('%s: canonical bytes equal output/ and outhex/', (name) => {
      const actual = utf8(canonicalJson(JSON.parse(read('cyberphone/input', `${name}.json`).toString('utf8'))));
      expect(actual).toEqual(read('cyberphone/output', `${name}.json`));
      expect(actual).toEqual(fromHexDump(read('cyberphone/outhex', `${name}.txt`).toString('ascii')));
    });
  });

  describe('RFC 8785 §3.2 examples', () => {
    const sample = () => canonicalJson(JSON.parse(read('rfc8785/section-3.2.2-input.json').toString('utf8')));

    it('§3.2.3: the §3.2.2 sample canonicalizes to the published text', () => {
      expect(utf8(sample())).toEqual(read('rfc8785/section-3.2.3-expected.json'));
    });

    it('§3.2.4: and to the published UTF-8 bytes', () => {
      expect(utf8(sample())).toEqual(fromHexDump(read('rfc8785/section-3.2.4-outhex.txt').toString('ascii')));
    });

    it('§3.2.3: properties sort by UTF-16 code units, not code points or locale', () => {
      const text = canonicalJson(JSON.parse(read('rfc8785/section-3.2.3-sorting-input.json').toString('utf8')));
      const expected = JSON.parse(read('rfc8785/section-3.2.3-sorting-order.json').toString('utf8')) as string[];
      // Read the order off the text: JSON.parse would hoist the integer-like key "1".
      const positions = expected.map((value) => text.indexOf(`:${JSON.stringify(value)}`));
      expect(positions.every((p) => p > 0)).toBe(true);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    });

    it('§3.2.3: shorter names precede longer names with the same prefix', () => {
      const names = JSON.parse(read('rfc8785/section-3.2.3-name-order.json').toString('utf8')) as string[];
      const reversed = Object.fromEntries([...names].reverse().map((name) => [name, 0]));
      expect(canonicalJson(reversed)).toBe(`{${names.map((name) => `${JSON.stringify(name)}:0`).join(',')}}`);
    });

    // canonicalize@2 alone would emit "\udead"; canonicalJson checks strings first.
    it('§3.2.2.2: a lone surrogate is rejected', () => {
      expect(() => canonicalJson({ s: '\udead' })).toThrow();
    });
  });

  describe('RFC 8785 Appendix B number serialization samples', () => {
    const rows = csvRows('appendix-b.csv');
    const finite = rows.filter(([, expected]) => expected !== '');
    const outOfRange = rows.filter(([, expected]) => expected === '');

    it('has the 26 rows of Table 1', () => expect(rows).toHaveLength(26));

    it.each(finite)('%s → %s', (hex, expected) => {
      expect(canonicalJson(doubleFromBits(hex))).toBe(expected);
      expect(canonicalJson([doubleFromBits(hex)])).toBe(`[${expected}]`);
    });

    it.each(outOfRange)('%s (%s%s) is rejected', (hex) => {
      expect(() => canonicalJson({ n: doubleFromBits(hex) })).toThrow();
    });
  });

  describe('cyberphone es6testfile (IEEE-754 hex → ES6 text)', () => {
    it.each(csvRows('es6-numbers/samples.csv'))('sample %s → %s', (hex, expected) => {
      expect(canonicalJson(doubleFromBits(hex))).toBe(expected);
    });

    // The 100M-line file is too big to store; its generator is specified in testdata/README.md
    // with SHA-256 checkpoints, so regenerating the prefix checks far more values than a table can.
    function* es6TestDoubles(): Generator<bigint> {
      const statics = read('es6-numbers/static-u64.txt').toString('ascii').trim().split('\n');
      for (const hex of statics) yield BigInt(`0x${hex}`);
      for (let i = 0n; i < 2000n; i++) yield 0x0010000000000000n + i;
      let block = Buffer.alloc(32);
      for (;;) {
        block = createHash('sha256').update(block).digest();
        for (let offset = 0; offset < 32; offset += 8) {
          const bits = block.readBigUInt64LE(offset);
          const exponent = (bits >> 52n) & 0x7ffn;
          if ((bits & 0x7fffffffffffffffn) !== 0n && exponent !== 0x7ffn) yield bits;
        }
      }
    }

    const checkpoints = csvRows('es6-numbers/checksums.csv')
      .map(([sha256, lines, bytes]) => ({ sha256, lines: Number(lines), bytes: Number(bytes) }))
      .filter(({ lines }) => lines <= 1_000_000);

    it(`first ${checkpoints[checkpoints.length - 1].lines} lines match the published SHA-256 checkpoints`, () => {
      const hash = createHash('sha256');
      const view = new DataView(new ArrayBuffer(8));
      let lines = 0;
      let bytes = 0;
      const reached: Array<{ sha256: string; lines: number; bytes: number }> = [];
      for (const bits of es6TestDoubles()) {
        view.setBigUint64(0, bits);
        const line = `${bits.toString(16)},${canonicalJson(view.getFloat64(0))}\n`;
        hash.update(line);
        bytes += line.length;
        lines += 1;
        if (lines === checkpoints[reached.length].lines) {
          reached.push({ sha256: hash.copy().digest('hex'), lines, bytes });
          if (reached.length === checkpoints.length) break;
        }
      }
      expect(reached).toEqual(checkpoints);
    });
  });

  describe('properties', () => {
    // Rebuilds every object with its keys in a generated order, keeping own-property semantics
    // (Object.fromEntries) so a "__proto__" key stays a key.
    function reorder(value: unknown, pick: (max: number) => number): unknown {
      if (Array.isArray(value)) return value.map((item) => reorder(item, pick));
      if (value === null || typeof value !== 'object') return value;
      const entries = Object.entries(value);
      const shuffled: Array<[string, unknown]> = [];
      while (entries.length > 0) shuffled.push(entries.splice(pick(entries.length - 1), 1)[0]);
      return Object.fromEntries(shuffled.map(([key, item]) => [key, reorder(item, pick)]));
    }

    it('is idempotent: canonical text re-parses to the same canonical text', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          const once = canonicalJson(value);
          expect(canonicalJson(JSON.parse(once))).toBe(once);
        }),
      );
    });

    it('is insensitive to key order', () => {
      fc.assert(
        fc.property(fc.jsonValue(), fc.gen(), (value, gen) => {
          const reordered = reorder(value, (max) => gen(fc.nat, { max }));
          expect(canonicalJson(reordered)).toBe(canonicalJson(value));
        }),
      );
    });
  });
});
