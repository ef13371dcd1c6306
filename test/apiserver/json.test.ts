import { describe, expect, test } from '@jest/globals';
import { cloneJson, ExactNumber, isExactNumber, jsonEqual, jsonTypeName, parseJson, toJson } from '../../src/testing/apiserver/json.js';

// The API test server stores what clients send and writes it back: any number a double cannot hold
// exactly must come back with the digits the client wrote.

describe('the API test server JSON', () => {
  test('safe numbers become numbers; int64 beyond 2^53 and over-long decimals keep their text', () => {
    const value = parseJson('{"t":1763773512123456789,"neg":-9007199254740993,"max":9007199254740991,"size":1073741824,"f":0.5,"long":1.12345678901234567890,"big":1e400}');
    expect(value).toEqual({
      t: new ExactNumber('1763773512123456789'),
      neg: new ExactNumber('-9007199254740993'),
      max: Number.MAX_SAFE_INTEGER,
      size: 1073741824,
      f: 0.5,
      long: new ExactNumber('1.12345678901234567890'),
      big: new ExactNumber('1e400'),
    });
  });

  test('numbers written differently but holding the same digits stay numbers', () => {
    expect(parseJson('[1.0,1e3,2.50,-0.0,1E-7]')).toEqual([1, 1000, 2.5, -0, 1e-7]);
    // An integer written as a decimal is unsafe when the double is past 2^53.
    expect(isExactNumber(parseJson('9007199254740993.0'))).toBe(true);
  });

  test('writes a stored document back digit for digit, nested values included', () => {
    const text = '{"status":{"creationTime":1763773512123456789,"list":[{"t":-9223372036854775808},1.12345678901234567890,2,"1763773512123456789"]}}';
    expect(toJson(parseJson(text))).toBe(text);
    expect(toJson(undefined)).toBe('null');
  });

  test('equality, type names and copies treat an exact number by its digits', () => {
    const a = parseJson('{"t":1763773512123456789,"n":[1,2]}');
    expect(jsonEqual(a, parseJson('{"n":[1,2],"t":1763773512123456789}'))).toBe(true);
    expect(jsonEqual(a, parseJson('{"n":[1,2],"t":1763773512123456788}'))).toBe(false);
    expect(jsonTypeName(new ExactNumber('1763773512123456789'))).toBe('integer');
    expect(jsonTypeName(new ExactNumber('1.12345678901234567890'))).toBe('number');
    const copy = cloneJson(a);
    expect(copy).not.toBe(a);
    expect(toJson(copy)).toBe(toJson(a));
  });
});
