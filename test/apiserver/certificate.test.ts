import { expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { createCertificate, createServingCertificate } from '../../src/testing/apiserver/certificate.js';

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

test('a client certificate is for client authentication only, and names only what it is given', () => {
  const client = new X509Certificate(createCertificate({ usage: 'client', commonName: 'sidecar' }).certPem);
  expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  expect(client.subjectAltName).toBeUndefined();
  const named = new X509Certificate(createCertificate({ dnsNames: ['apiserver.example'], ipv4: [] }).certPem);
  expect(named.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
  expect(named.subjectAltName).toBe('DNS:apiserver.example');
});
