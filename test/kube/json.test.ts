import { describe, expect, test } from '@jest/globals';
import { parseJson, parseJsonBySource, stringifyJson } from '../../src/kube/json.js';

const NANOS = '1763773512123456789';

describe('parseJson', () => {
  test('integers beyond the safe range become bigint, everything else a number', () => {
    const value = parseJson<Record<string, unknown>>(
      `{"creationTime":${NANOS},"restoreSize":1073741824,"max":9007199254740991,"over":9007199254740992,"neg":-9223372036854775808,"f":0.5,"e":1e3}`,
    );
    expect(value).toEqual({
      creationTime: BigInt(NANOS),
      restoreSize: 1073741824,
      max: Number.MAX_SAFE_INTEGER,
      over: 9007199254740992n,
      neg: -9223372036854775808n,
      f: 0.5,
      e: 1000,
    });
  });

  test('digits inside strings (also with escaped quotes) are left alone', () => {
    const text = `{"a":"x\\" ${NANOS} \\\\","b":[${NANOS},"${NANOS}"],"c":"\\\\\\"${NANOS}"}`;
    const value = parseJson<Record<string, unknown>>(text);
    expect(value).toEqual({ a: `x" ${NANOS} \\`, b: [BigInt(NANOS), NANOS], c: `\\"${NANOS}` });
  });

  test('long fractions and exponents stay numbers', () => {
    const value = parseJson<number[]>('[1.12345678901234567890, 12345678901234567890e-5, 1E+12345678901234567]');
    expect(value.map((v) => typeof v)).toEqual(['number', 'number', 'number']);
  });

  test('a "__proto__" key stays an own property and never changes the prototype', () => {
    const value = parseJson<Record<string, unknown>>(`{"__proto__":{"polluted":"${NANOS}"},"n":${NANOS}}`);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(value, '__proto__')).toBe(true);
    expect(value.n).toBe(BigInt(NANOS));
  });

  // Both parsers: the fast one (native parse after quoting long integers) and the reviver that
  // serves documents containing the fast one's marker. They must agree on every document.
  describe.each([
    ['parseJson', parseJson],
    ['parseJsonBySource', parseJsonBySource],
  ])('%s', (_name, parse: (text: string) => unknown) => {
    test('integers just past 2^53, and the int64 extremes, keep every digit', () => {
      expect(parse('[9007199254740993,-9007199254740993,9007199254740992,-9007199254740991,9223372036854775807,-9223372036854775808]')).toEqual([
        9007199254740993n,
        -9007199254740993n,
        9007199254740992n,
        -Number.MAX_SAFE_INTEGER,
        9223372036854775807n,
        -9223372036854775808n,
      ]);
      // Beyond int64 too: the digits are what the server sent.
      expect(parse('{"n":123456789012345678901234567890}')).toEqual({ n: 123456789012345678901234567890n });
    });

    test('exponents and fractions stay numbers, however many digits they carry', () => {
      expect(parse('[1e21,-1E+30,9007199254740993e0,12345678901234567890.5,-0.000000000000000001,0,-0]')).toEqual([1e21, -1e30, 9007199254740992, 12345678901234567000, -1e-18, 0, -0]);
    });

    test('bigints deep inside objects and arrays, next to strings of the same digits', () => {
      const value = parse(`{"a":[{"b":{"c":[${NANOS},"${NANOS}",[-${NANOS}]]}}],"d":{"e":null,"f":[true,false,1.5]}}`);
      expect(value).toEqual({ a: [{ b: { c: [BigInt(NANOS), NANOS, [-BigInt(NANOS)]] } }], d: { e: null, f: [true, false, 1.5] } });
    });

    test('a top-level integer, and whitespace around numbers', () => {
      expect(parse(` ${NANOS} `)).toBe(BigInt(NANOS));
      expect(parse(`[ -${NANOS} ,\n 1 ]`)).toEqual([-BigInt(NANOS), 1]);
    });
  });

  test('the reviver agrees with the fast parser on a document with many bigints and strings', () => {
    const text = `{"items":[${Array.from({ length: 50 }, (_, i) => `{"n":"c${i}","t":${NANOS.slice(0, -2)}${String(i).padStart(2, '0')},"s":1073741824,"x":"${NANOS}"}`).join(',')}]}`;
    expect(parseJsonBySource(text)).toEqual(parseJson(text));
  });

  test('rejects invalid JSON like JSON.parse does', () => {
    expect(() => parseJson(`{"a": ${NANOS}`)).toThrow(SyntaxError);
    expect(() => parseJson('{"a": }')).toThrow(SyntaxError);
  });
});

describe('stringifyJson', () => {
  test('writes bigints as their exact digits and round-trips a document bit for bit', () => {
    const text = `{"metadata":{"name":"c","annotations":{"k":"${NANOS}"}},"status":{"creationTime":${NANOS},"restoreSize":1,"list":[-9223372036854775808,2.5,null,true]}}`;
    expect(stringifyJson(parseJson(text))).toBe(text);
    expect(stringifyJson({ n: 123n, s: 'bigint' })).toBe('{"n":123,"s":"bigint"}');
  });

  test('writes negative and nested bigints, and strings that look like the digits, as they are', () => {
    expect(stringifyJson({ a: [{ b: -9223372036854775808n }, '9223372036854775807'], c: 9007199254740993n })).toBe(
      '{"a":[{"b":-9223372036854775808},"9223372036854775807"],"c":9007199254740993}',
    );
    expect(stringifyJson(-1n)).toBe('-1');
  });

  test('refuses values JSON cannot hold', () => {
    expect(() => stringifyJson(undefined)).toThrow(TypeError);
  });

  test('a large list with many bigints round-trips', () => {
    const items = Array.from({ length: 500 }, (_, i) => ({ name: `c${i}`, note: `${NANOS}${i}`, status: { creationTime: BigInt(NANOS) + BigInt(i) } }));
    const text = stringifyJson({ items });
    const back = parseJson<{ items: typeof items }>(text);
    expect(back.items[499]?.status.creationTime).toBe(BigInt(NANOS) + 499n);
    expect(back.items[499]?.note).toBe(`${NANOS}499`);
    expect(stringifyJson(back)).toBe(text);
  });
});
