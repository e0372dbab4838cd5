"""{{name}}: an mmhost plugin in Python. Prints the number of lines ('\n'
bytes) in the region; change run() to do what you need."""

from mmhost_guest import Err, Plugin, entry, region


class WitWorld(Plugin):  # the class name componentize-py looks for
    @entry  # a RegionError becomes err(message); other exceptions are logged
    def run(self, args: list[str]) -> str:
        if args:
            raise Err("usage: {{name}}")  # err: printed on stderr, exit code 1
        lines = sum(data.count(b"\n") for _offset, data in region.chunks())
        return str(lines)  # ok: printed on stdout
