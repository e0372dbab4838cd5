// checksum: prints `<sha256 hex> <size>` of the whole region.
import { entry, region } from './mmhost-guest.js';
import { Sha256 } from './sha256.js';

export const run = entry((args) => {
  const hash = new Sha256();
  for (const [_offset, bytes] of region.chunks()) hash.update(bytes);
  return `${hash.hex()} ${region.size()}`;
});
