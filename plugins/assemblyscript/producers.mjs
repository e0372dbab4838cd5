// Adds a `producers` custom section (language AssemblyScript, processed-by
// asc, with asc's version) to a core module that has none, so that tools such
// as `mmhost inspect` and `wasm-tools metadata show` can tell the plugin's
// source language. asc itself writes no producers section.
//
//   node producers.mjs MODULE.wasm ASC_VERSION
import { readFileSync, writeFileSync } from 'node:fs';

const [file, version] = process.argv.slice(2);
const wasm = readFileSync(file);

function leb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const str = (s) => {
  const b = Buffer.from(s, 'utf8');
  return [...leb(b.length), ...b];
};

// Is there a producers section already? Walk the sections.
let pos = 8;
while (pos < wasm.length) {
  const id = wasm[pos++];
  let size = 0, shift = 0, b;
  do {
    b = wasm[pos++];
    size |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80);
  if (id === 0) {
    let n = 0, s2 = 0, p = pos;
    do {
      b = wasm[p++];
      n |= (b & 0x7f) << s2;
      s2 += 7;
    } while (b & 0x80);
    if (wasm.subarray(p, p + n).toString('utf8') === 'producers') process.exit(0);
  }
  pos += size;
}

const field = (name, values) => [...str(name), ...leb(values.length), ...values.flatMap(([n, v]) => [...str(n), ...str(v)])];
const payload = [
  ...str('producers'),
  ...leb(2),
  ...field('language', [['AssemblyScript', version]]),
  ...field('processed-by', [['asc', version]]),
];
writeFileSync(file, Buffer.concat([wasm, Buffer.from([0, ...leb(payload.length), ...payload])]));
