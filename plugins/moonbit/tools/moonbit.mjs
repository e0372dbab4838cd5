// A command-line driver for the MoonBit compiler that npm ships as JavaScript
// (@moonbit/moonc-worker): the subset of `moon build` that mmhost's MoonBit
// plugins need, for machines where the native `moon` toolchain cannot be
// installed (it downloads from moonbitlang's own site, not a registry).
//
//   node moonbit.mjs setup DIR
//       DIR holds node_modules/@moonbit/{moonc-worker,moonpad-monaco} (npm).
//       Makes the compiler loadable in node (DIR/moonc.cjs), extracts the
//       core library sources that moonpad-monaco embeds (DIR/core/), and
//       compiles every core package for the `wasm` and `wasm-gc` targets
//       (DIR/core/_build/<target>/<pkg>.{mi,core}). Run once per version.
//   node moonbit.mjs build DIR --target wasm|wasm-gc MAIN_PKG_DIR -o OUT.wasm
//       Builds the package in MAIN_PKG_DIR (a directory of .mbt files with a
//       moon.pkg.json, as `moon` reads it) and the packages it imports from
//       the same module (moon.mod.json above it), links them with the core
//       library and writes a core wasm module. Reads from moon.pkg.json:
//       "import" (module-local packages), "targets" (files limited to some
//       targets), "link"."<target>"."exports" and
//       "export-memory-name" (moonc's JS build cannot export the memory
//       itself, so this driver adds the export to the linked module). Adds a
//       producers section naming the language (MoonBit and the compiler's
//       version) for `mmhost inspect`.
//
// Every failure is one line (or the compiler's diagnostics) naming what broke
// and the exit status is 1. Fragile by nature: it depends on the internals of
// two npm packages, so scripts/install-toolchains.sh pins both versions.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);

function die(msg) {
  process.stderr.write(`moonbit: ${msg}\n`);
  process.exit(1);
}

const TARGETS = { wasm: 'Wasm', 'wasm-gc': 'WasmGC' };

// Bumped when what `setup` produces changes; install-toolchains.sh redoes the
// setup when it differs from the one recorded in DIR/ready.
const SETUP_VERSION = 1;

// ---- setup -----------------------------------------------------------------

// moonc-worker.js is a web worker whose last statement hands the compiler's
// API to comlink's `expose` (`var A=B(C());D(A);`); replace that call with a
// CommonJS export.
function patchCompiler(dir) {
  const src = path.join(dir, 'node_modules/@moonbit/moonc-worker/moonc-worker.js');
  if (!fs.existsSync(src)) die(`${src} not found (npm package @moonbit/moonc-worker not installed)`);
  const js = fs.readFileSync(src, 'utf8');
  const re = /var ([\w$]+)=([\w$]+)\(([\w$]+)\(\)\);([\w$]+)\(\1\);/g;
  const hits = [...js.matchAll(re)];
  if (hits.length !== 1)
    die(`${src}: expected one comlink expose call (var A=B(C());D(A);) at the end, found ${hits.length}: ` +
        'the package changed; pin the version in scripts/install-toolchains.sh');
  const h = hits[0];
  const patched = js.slice(0, h.index) + `var ${h[1]}=${h[2]}(${h[3]}());module.exports=${h[1]};` +
    js.slice(h.index + h[0].length);
  const out = path.join(dir, 'moonc.cjs');
  fs.writeFileSync(out + '.tmp', patched);
  fs.renameSync(out + '.tmp', out);
  const api = loadCompiler(dir);
  for (const f of ['buildPackage', 'linkCore'])
    if (typeof api[f] !== 'function') die(`${out}: the compiler exports no ${f}()`);
}

// moonpad-monaco.js carries the core library as `X["/lib/core/..."] = V;`
// entries whose values are `V = Q("<base64>")`.
function extractCore(dir) {
  const src = path.join(dir, 'node_modules/@moonbit/moonpad-monaco/dist/moonpad-monaco.js');
  if (!fs.existsSync(src)) die(`${src} not found (npm package @moonbit/moonpad-monaco not installed)`);
  const js = fs.readFileSync(src, 'utf8');
  const blobs = new Map();
  for (const m of js.matchAll(/(?<![\w$])([\w$]+) = Q\(\s*"([A-Za-z0-9+/=]*)"\s*\)/g)) blobs.set(m[1], m[2]);
  const files = [...js.matchAll(/X\["(\/lib\/core\/[^"]+)"\] = ([\w$]+);/g)];
  const wanted = files.filter(([, p]) => p.endsWith('.mbt') || p === '/lib/core/_build/packages.json');
  if (!wanted.some(([, p]) => p === '/lib/core/_build/packages.json') || wanted.length < 100)
    die(`${src}: found ${wanted.length} core library files and ${wanted.some(([, p]) => p.endsWith('packages.json')) ? 'a' : 'no'} ` +
        'packages.json in the X["/lib/core/..."] = Q("...") table: the package changed; pin its version');
  const core = path.join(dir, 'core');
  fs.rmSync(core, { recursive: true, force: true });
  for (const [, p, v] of wanted) {
    if (!blobs.has(v)) die(`${src}: ${p} refers to ${v}, which holds no Q("base64") data`);
    const out = path.join(dir, 'core', p.slice('/lib/core/'.length));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, Buffer.from(blobs.get(v), 'base64'));
  }
  return wanted.length;
}

let compiler;
function loadCompiler(dir) {
  const file = path.join(dir, 'moonc.cjs');
  if (!fs.existsSync(file)) die(`${file} not found: run \`node moonbit.mjs setup ${dir}\``);
  // One instance serves every call of this process. The compiler keeps
  // global counters across calls (moonpad starts a new worker per call), so
  // a package compiled after others may come out with some instructions in
  // another order than alone; a build is still reproducible (same calls, same
  // order). MOONBIT_FRESH=1 loads a fresh instance per call (about 1 s each).
  if (process.env.MOONBIT_FRESH === '1') delete require.cache[require.resolve(file)];
  else if (compiler) return compiler;
  try {
    compiler = require(file);
  } catch (e) {
    die(`${file}: loading the compiler failed (${String(e && e.message).split('\n')[0]}): ` +
        'the package changed or is damaged; reinstall the pinned version');
  }
  return compiler;
}

function corePackages(dir) {
  const file = path.join(dir, 'core/_build/packages.json');
  let pj;
  try {
    pj = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    die(`${file}: ${e.message}`);
  }
  return new Map(pj.packages.map((p) => [`${p.root}/${p.rel}`, p]));
}

// Packages in dependency order.
function topo(pkgs, deps) {
  const order = [];
  const state = new Map();
  const visit = (name, from) => {
    if (state.get(name) === 2) return;
    if (state.get(name) === 1) die(`import cycle through ${name}`);
    if (!pkgs.has(name)) die(`package ${name} (imported by ${from}) not found`);
    state.set(name, 1);
    for (const d of deps(pkgs.get(name))) visit(d, name);
    state.set(name, 2);
    order.push(name);
  };
  for (const name of pkgs.keys()) visit(name, 'the build');
  return order;
}

// All packages `name` imports, directly or not.
function closure(pkgs, deps, name) {
  const all = new Set();
  const walk = (n) => {
    for (const d of deps(pkgs.get(n))) if (!all.has(d)) { all.add(d); walk(d); }
  };
  walk(name);
  return all;
}

function compileCore(dir, target) {
  const pkgs = corePackages(dir);
  const deps = (p) => p.deps.map((d) => d.path);
  const order = topo(pkgs, deps);
  const outDir = path.join(dir, 'core/_build', target);
  fs.mkdirSync(outDir, { recursive: true });
  const mi = new Map();
  for (const name of order) {
    const p = pkgs.get(name);
    const mbtFiles = Object.entries(p.files)
      .filter(([, v]) => v.backend.includes(TARGETS[target]))
      .map(([f]) => {
        const rel = f.replace('moonbit-core:/lib/core/', '');
        return [path.basename(rel), fs.readFileSync(path.join(dir, 'core', rel), 'utf8')];
      });
    const direct = new Set(deps(p));
    const r = compile(dir, {
      mbtFiles,
      miFiles: p.deps.map((d) => [`${d.path}:${d.alias}`, mi.get(d.path)]),
      indirectImportMiFiles: [...closure(pkgs, deps, name)].filter((q) => !direct.has(q))
        .map((q) => [`${q}:${q.split('/').at(-1)}`, mi.get(q)]),
      stdMiFiles: [],
      target,
      pkg: name,
      pkgSources: [`${name}:/lib/core/${p.rel}`],
      isMain: false,
    }, `core package ${name} (${target})`);
    mi.set(name, r.mi);
    const base = path.join(outDir, p.rel.replaceAll('/', '.'));
    fs.writeFileSync(base + '.mi', r.mi);
    fs.writeFileSync(base + '.core', r.core);
  }
  fs.writeFileSync(path.join(outDir, 'order.json'), JSON.stringify(order.map((n) => [n, pkgs.get(n).rel])));
  return order.length;
}

function compile(dir, params, what) {
  const moonc = loadCompiler(dir);
  let r;
  try {
    r = moonc.buildPackage({ errorFormat: 'human', enableValueTracing: false, noOpt: false, ...params });
  } catch (e) {
    die(`compiling ${what}: the compiler threw: ${e && e.stack ? e.stack.split('\n')[0] : e}`);
  }
  if (!r.core || !r.mi) {
    die(`compiling ${what} failed (the compiler's messages are above)`);
  }
  return r;
}

// ---- build -----------------------------------------------------------------

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    die(`${file}: ${e.code === 'ENOENT' ? 'not found' : e.message}`);
  }
}

// The module (moon.mod.json) that holds `pkgDir`.
function findModule(pkgDir) {
  for (let d = path.resolve(pkgDir); ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'moon.mod.json'))) return d;
    if (path.dirname(d) === d) die(`${pkgDir}: no moon.mod.json in it or above it`);
  }
}

function build(dir, target, mainDir, out) {
  const coreOut = path.join(dir, 'core/_build', target);
  const orderFile = path.join(coreOut, 'order.json');
  if (!fs.existsSync(orderFile)) die(`${orderFile} not found: the core library is not compiled for ${target} (run setup)`);
  const coreOrder = JSON.parse(fs.readFileSync(orderFile, 'utf8'));
  const coreMi = (rel) => fs.readFileSync(path.join(coreOut, rel.replaceAll('/', '.') + '.mi'));
  const std = coreOrder.map(([, rel]) => [`/lib/core/${rel}:${rel}`, coreMi(rel)]);

  const modDir = findModule(mainDir);
  const mod = readJson(path.join(modDir, 'moon.mod.json'));
  const pkgs = new Map();
  const load = (pkgDir) => {
    const rel = path.relative(modDir, path.resolve(pkgDir)).split(path.sep).join('/');
    const name = rel ? `${mod.name}/${rel}` : mod.name;
    if (pkgs.has(name)) return name;
    const cfg = readJson(path.join(pkgDir, 'moon.pkg.json'));
    const imports = (cfg.import || []).map((i) => (typeof i === 'string' ? { path: i } : i));
    const p = { name, dir: pkgDir, cfg, imports: [] };
    pkgs.set(name, p);
    for (const i of imports) {
      if (!i.path.startsWith(mod.name + '/'))
        die(`${path.join(pkgDir, 'moon.pkg.json')}: import ${i.path}: only packages of ${mod.name} and the core library are available`);
      const dep = load(path.join(modDir, i.path.slice(mod.name.length + 1)));
      p.imports.push({ path: dep, alias: i.alias || dep.split('/').at(-1) });
    }
    return name;
  };
  const main = load(mainDir);
  const deps = (p) => p.imports.map((i) => i.path);
  const order = topo(pkgs, deps);
  const built = new Map();
  for (const name of order) {
    const p = pkgs.get(name);
    // moon.pkg.json "targets": {"file.mbt": ["wasm", ...]} limits a file
    // to the targets listed.
    const only = p.cfg.targets || {};
    const files = fs.readdirSync(p.dir)
      .filter((f) => f.endsWith('.mbt') && !/_(wb)?test\.mbt$/.test(f))
      .filter((f) => !only[f] || only[f].includes(target))
      .sort();
    if (files.length === 0) die(`${p.dir}: no .mbt files`);
    const direct = new Set(deps(p));
    built.set(name, compile(dir, {
      mbtFiles: files.map((f) => [f, fs.readFileSync(path.join(p.dir, f), 'utf8')]),
      miFiles: p.imports.map((i) => [`${i.path}:${i.alias}`, built.get(i.path).mi]),
      indirectImportMiFiles: [...closure(pkgs, deps, name)].filter((q) => !direct.has(q))
        .map((q) => [`${q}:${q.split('/').at(-1)}`, built.get(q).mi]),
      stdMiFiles: std,
      target,
      pkg: name,
      pkgSources: [`${name}:${p.dir}`],
      isMain: name === main && !!p.cfg['is-main'],
    }, `${p.dir}`));
  }
  const link = ((pkgs.get(main).cfg.link || {})[target]) || {};
  const exportsList = link.exports || [];
  if (exportsList.length === 0) die(`${path.join(mainDir, 'moon.pkg.json')}: no link.${target}.exports`);
  const moonc = loadCompiler(dir);
  let wasm;
  try {
    wasm = moonc.linkCore({
      coreFiles: [...coreOrder.map(([, rel]) => fs.readFileSync(path.join(coreOut, rel.replaceAll('/', '.') + '.core'))),
        ...order.map((n) => built.get(n).core)],
      main,
      pkgSources: [...coreOrder.map(([n, rel]) => `${n}:/lib/core/${rel}`), ...order.map((n) => `${n}:${pkgs.get(n).dir}`)],
      target,
      exportedFunctions: exportsList,
      outputFormat: 'wasm',
      testMode: false,
      debug: false,
      noOpt: false,
      sourceMap: false,
      sources: {},
      stopOnMain: false,
    }).result;
  } catch (e) {
    die(`linking ${main} failed: ${e && e.message ? e.message : String(e).split('\n')[0]}`);
  }
  if (link['export-memory-name']) wasm = exportMemory(wasm, link['export-memory-name']);
  wasm = addProducers(wasm, compilerVersion(dir));
  fs.writeFileSync(out + '.tmp', wasm);
  fs.renameSync(out + '.tmp', out);
}

function compilerVersion(dir) {
  return readJson(path.join(dir, 'node_modules/@moonbit/moonc-worker/package.json')).version.split('+')[0];
}

// ---- wasm binary edits -------------------------------------------------------

function uleb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function readUleb(buf, pos) {
  let n = 0, shift = 0, b;
  do {
    b = buf[pos++];
    n |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80);
  return [n >>> 0, pos];
}

function str(s) {
  const b = Buffer.from(s, 'utf8');
  return [...uleb(b.length), ...b];
}

function sections(wasm) {
  if (wasm.readUInt32LE(0) !== 0x6d736100) die('the linker did not return a wasm module');
  const list = [];
  let pos = 8;
  while (pos < wasm.length) {
    const id = wasm[pos];
    const [len, body] = readUleb(wasm, pos + 1);
    list.push({ id, start: pos, body, end: body + len });
    pos = body + len;
  }
  return list;
}

// Adds (export NAME (memory 0)) to the export section (made if missing).
function exportMemory(bytes, name) {
  const wasm = Buffer.from(bytes);
  const secs = sections(wasm);
  if (!secs.some((s) => s.id === 5) && !secs.some((s) => s.id === 2 && wasm.subarray(s.body, s.end).includes(Buffer.from('memory'))))
    die('the linked module defines no memory to export');
  const entry = [...str(name), 0x02, 0x00];
  const exp = secs.find((s) => s.id === 7);
  let body;
  let at;
  let endAt;
  if (exp) {
    const [count, p] = readUleb(wasm, exp.body);
    body = Buffer.concat([Buffer.from(uleb(count + 1)), wasm.subarray(p, exp.end), Buffer.from(entry)]);
    at = exp.start;
    endAt = exp.end;
  } else {
    // Export section goes after global (6) or earlier known sections.
    const before = secs.filter((s) => s.id !== 0 && s.id <= 6).at(-1);
    body = Buffer.from([1, ...entry]);
    at = endAt = before ? before.end : 8;
  }
  const sec = Buffer.concat([Buffer.from([7, ...uleb(body.length)]), body]);
  return Buffer.concat([wasm.subarray(0, at), sec, wasm.subarray(endAt)]);
}

// Appends a producers section: language MoonBit, processed-by moonc.
function addProducers(bytes, version) {
  const wasm = Buffer.from(bytes);
  if (sections(wasm).some((s) => s.id === 0 && wasm.subarray(s.body, s.body + 10).includes(Buffer.from('producers'))))
    return wasm;
  const field = (name, values) => [...str(name), ...uleb(values.length), ...values.flatMap(([n, v]) => [...str(n), ...str(v)])];
  const body = [...str('producers'), 2, ...field('language', [['MoonBit', version]]),
    ...field('processed-by', [['moonc', version]])];
  return Buffer.concat([wasm, Buffer.from([0, ...uleb(body.length), ...body])]);
}

// ---- main ------------------------------------------------------------------

const [cmd, dir, ...rest] = process.argv.slice(2);
if (!dir) die('usage: moonbit.mjs setup DIR | build DIR --target wasm|wasm-gc PKG_DIR -o OUT');
if (cmd === 'setup') {
  fs.rmSync(path.join(dir, 'ready'), { force: true });
  const t0 = Date.now();
  patchCompiler(dir);
  const n = extractCore(dir);
  const counts = Object.keys(TARGETS).map((t) => `${compileCore(dir, t)} for ${t}`);
  fs.writeFileSync(path.join(dir, 'ready'), `${compilerVersion(dir)} setup ${SETUP_VERSION}\n`);
  console.log(`moonbit: moonc ${compilerVersion(dir)} ready; core library: ${n} files, packages compiled: ${counts.join(', ')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
} else if (cmd === 'build') {
  let target = 'wasm', out, pkgDir;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--target') target = rest[++i];
    else if (rest[i] === '-o') out = rest[++i];
    else if (!pkgDir) pkgDir = rest[i];
    else die(`unexpected argument ${rest[i]}`);
  }
  if (!TARGETS[target]) die(`unknown target ${target} (wasm, wasm-gc)`);
  if (!pkgDir || !out) die('build needs a package directory and -o OUT');
  build(dir, target, pkgDir, out);
} else {
  die(`unknown command ${cmd} (setup, build)`);
}
