import { describe, expect, test } from '@jest/globals';
import { parseJson, stringifyJson } from '../../src/kube/json.js';

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
