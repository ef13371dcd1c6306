import { expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { createServingCertificate } from '../../src/testing/apiserver/certificate.js';

// The serial number is random; every draw must still be valid DER (a leading zero byte used to make
// about one certificate in 256 unparseable, failing a test server start now and then).
test('every generated serving certificate parses, for loopback and localhost', () => {
  for (let i = 0; i < 600; i++) {
    const { certPem } = createServingCertificate();
    const cert = new X509Certificate(certPem);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
  }
  expect(new X509Certificate(createServingCertificate().certPem).checkHost('localhost')).toBe('localhost');
});
