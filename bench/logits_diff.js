#!/usr/bin/env node
// Compares two raw float32 logits files [n_rows × n_vocab] (bwscope --dump-logits, llamacpp logits):
//   node bench/logits_diff.js A.f32 B.f32 N_VOCAB
// Prints, per row and overall: max |A-B| / max |B| (relative error), and whether the argmax agrees.
const fs = require('fs');
const [a, b, nv] = [process.argv[2], process.argv[3], Number(process.argv[4])];
if (!a || !b || !nv) { console.error('usage: logits_diff.js A.f32 B.f32 N_VOCAB'); process.exit(2); }
const read = p => { const buf = fs.readFileSync(p); return new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4); };
const A = read(a), B = read(b);
if (A.length !== B.length || A.length % nv) { console.error(`sizes differ or not a multiple of ${nv}: ${A.length} vs ${B.length}`); process.exit(1); }
const rows = A.length / nv;
let worst = 0, agree = 0;
for (let r = 0; r < rows; r++) {
  let diff = 0, ref = 0, ia = 0, ib = 0;
  for (let i = 0; i < nv; i++) {
    const x = A[r * nv + i], y = B[r * nv + i];
    diff = Math.max(diff, Math.abs(x - y)); ref = Math.max(ref, Math.abs(y));
    if (x > A[r * nv + ia]) ia = i;
    if (y > B[r * nv + ib]) ib = i;
  }
  worst = Math.max(worst, diff / ref); agree += ia === ib;
}
console.log(JSON.stringify({ rows, max_rel_err: worst, argmax_agree: agree / rows }));
