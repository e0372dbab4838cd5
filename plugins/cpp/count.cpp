// count PATTERN: the number of non-overlapping occurrences of PATTERN (its
// UTF-8 bytes) in the region, exactly like Python's bytes.count: matches are
// taken greedily from the left, an empty pattern counts size + 1, and
// matches that straddle file boundaries count. The host searches
// (region.find, SIMD memmem over the mapping); nothing is copied in.
#include "mmhost.hpp"

namespace {

// How many offsets one find call returns at most.
constexpr std::uint32_t batch = 1 << 16;

}  // namespace

std::expected<std::string, std::string> mmhost::plugin::run(std::span<const std::string_view> args) {
    if (args.size() != 1) return std::unexpected("usage: count PATTERN");
    const auto pattern = bytes(args[0]);
    const std::uint64_t size = region::size();
    if (pattern.empty()) return decimal(size + 1);
    std::uint64_t total = 0;
    for (std::uint64_t pos = 0;;) {
        auto hits = region::find(pattern, pos, size, batch);
        if (!hits) return std::unexpected(message(hits.error()));
        total += hits->size();
        if (hits->size() < batch) break;
        pos = (*hits)[hits->size() - 1] + pattern.size();
    }
    return decimal(total);
}
