"""checksum: prints `<sha256 hex> <size>` of the whole region."""

import hashlib

from mmhost_guest import Plugin, region, entry


class WitWorld(Plugin):
    @entry
    def run(self, args: list[str]) -> str:
        h = hashlib.sha256()
        for _offset, data in region.chunks():
            h.update(data)
        return f"{h.hexdigest()} {region.size()}"
