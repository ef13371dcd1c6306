// The real-cluster harness and the end-to-end tests pick free loopback ports the same way.
export { freeLocalPort } from '../../helpers/ports.js';
