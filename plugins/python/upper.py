"""upper: ASCII-uppercases the whole region in place (--in-place or --output)."""

from mmhost_guest import Plugin, region, entry


class WitWorld(Plugin):
    @entry
    def run(self, args: list[str]) -> str:
        # bytes.upper() changes a-z only, so UTF-8 text stays valid.
        region.transform_chunks(lambda _offset, data: data.upper())
        return ""
