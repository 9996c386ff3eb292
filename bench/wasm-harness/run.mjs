// Runs gatehouse-wasm-harness.wasm in Node's V8 through WASI preview 1.
// Usage: node --no-liftoff run.mjs HARNESS.wasm FIXTURE_DIR [PREFIX]
// `--no-liftoff`: TurboFan only, as Envoy configures V8.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import { argv, env, exit } from 'node:process';

const [wasmPath, dir, prefix] = argv.slice(2);
if (!wasmPath || !dir) {
  console.error('usage: node --no-liftoff run.mjs HARNESS.wasm FIXTURE_DIR [PREFIX]');
  exit(2);
}
const wasi = new WASI({
  version: 'preview1',
  args: ['gatehouse-wasm-harness', 'run', '/fixtures', ...(prefix ? [prefix] : [])],
  env,
  preopens: { '/fixtures': dir },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
