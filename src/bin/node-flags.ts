// Imported first by the bin entry, so the V8 options are set before the sidecar's modules load.
import { applyNodeFlags } from '../node-flags.js';

applyNodeFlags();
