// {{name}}: an mmhost plugin in C++. Prints the number of lines ('\n' bytes)
// in the region; change run to do what you need.
#include <algorithm>

#include "mmhost.hpp"

std::expected<std::string, std::string> mmhost::plugin::run(std::span<const std::string_view> args) {
    if (!args.empty()) return std::unexpected("usage: {{name}}");  // err: stderr, exit code 1
    std::uint64_t lines = 0;
    for (auto chunk : region::chunks()) {  // 1 MiB at a time, freed for you
        if (!chunk) return std::unexpected(message(chunk.error()));
        lines += std::ranges::count(chunk->bytes, '\n');
    }
    return decimal(lines);  // ok: printed on stdout
}
