// {{name}}: an mmhost plugin in JavaScript. Prints the number of lines
// ('\n' bytes) in the region; change run() to do what you need.
import { entry, region } from './mmhost-guest.js';

export const run = entry((args) => {
  if (args.length) throw 'usage: {{name}}'; // err: printed on stderr, exit code 1
  let lines = 0;
  for (const [_offset, bytes] of region.chunks()) {
    // indexOf runs as native code; a loop over every byte is interpreted.
    for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) lines++;
  }
  return String(lines); // ok: printed on stdout
});
