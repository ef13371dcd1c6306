import type { Allowlist } from './compare.js';

const APPLY_REFUSED =
  '{"apiVersion":"v1","code":415,"kind":"Status","message":"server-side apply is not supported by kube-test-apiserver; use a JSON or merge patch","metadata":{},"reason":"UnsupportedMediaType","status":"Failure"}';

/**
 * Every difference between the API test server (src/testing/apiserver) and the real kube-apiserver
 * that the differential runner's transcript may show. Each is deliberate and named in the README's
 * list of the test server's deliberate differences; anything else is a bug in the test server.
 */
export const TEST_SERVER_ALLOWLIST: Allowlist = {
  metadata: [
    {
      member: 'managedFields',
      // Field ownership exists for server-side apply, which the test server does not implement;
      // the sidecar and controllers never read it.
      reason: 'the test server keeps no managedFields',
    },
  ],
  steps: [
    // No server-side apply: every apply patch is answered 415, so the sequence applies to class b,
    // which later steps show only by name, and the refusal shows in these three steps alone.
    { step: 'server-side apply', reason: 'no server-side apply (415)', testServer: { status: 415, body: APPLY_REFUSED } },
    { step: 'server-side apply conflict', reason: 'no server-side apply (415), hence no field manager conflicts', testServer: { status: 415, body: APPLY_REFUSED } },
    { step: 'server-side apply forced', reason: 'no server-side apply (415)', testServer: { status: 415, body: APPLY_REFUSED } },
  ],
};
