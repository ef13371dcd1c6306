// The production entry: dist/bundle/csi-snapshotter.js, one ES module holding the sidecar and its
// dependencies, built by esbuild from tsc's output (dist/src/bin/csi-snapshotter.js), so it is made
// of exactly the JavaScript the unit tests import. The image, the package's `bin` and every test or
// benchmark that starts the sidecar as a process run it. What it saves (BENCHMARKS.md): Node no
// longer resolves, reads and compiles some 300 files one by one at start-up; about 0.1 s of CPU.
//
//   node scripts/bundle.mjs            (part of `npm run build`, after tsc)
//
// Dependencies' CommonJS `require` calls need a `require` in an ES module: the banner makes one.
// node_modules stays next to the bundle (in the checkout and in the image) for the modules a
// dependency asks for at run time by a computed name, as protobufjs does for `long`.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'bundle', 'csi-snapshotter.js');

await build({
  entryPoints: [join(root, 'dist', 'src', 'bin', 'csi-snapshotter.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);" },
  // Comments dropped and non-ASCII characters escaped: V8 holds a source that has any character
  // beyond Latin-1 (a "→" in a comment) as two bytes per character, which doubled the bundle in
  // memory. Names stay as they are, so stack traces still name functions.
  minifyWhitespace: true,
  charset: 'ascii',
  logLevel: 'warning',
});

// esbuild leaves a regular expression's characters as written: one beyond ASCII in a source would
// make the whole bundle two bytes per character again. Write it as an escape (\u00b5) instead.
const text = readFileSync(outfile, 'latin1');
let at = 0;
while (at < text.length && text.charCodeAt(at) < 0x80) at++;
if (at < text.length) {
  console.error(`scripts/bundle.mjs: ${outfile} holds a non-ASCII character near: ${JSON.stringify(text.slice(Math.max(0, at - 60), at + 20))}`);
  process.exit(1);
}
