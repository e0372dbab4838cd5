// upper: ASCII-uppercases the whole region in place (needs --in-place or
// --output). Bytes other than a-z are left alone, so UTF-8 stays valid.
#include "mmhost.hpp"

namespace {

// Branch-free, so that clang vectorises it with -msimd128.
void uppercase(std::uint64_t, std::span<std::uint8_t> bytes) {
    for (auto& b : bytes) b -= static_cast<std::uint8_t>(static_cast<std::uint8_t>(b - 'a') < 26) * 32;
}

}  // namespace

std::expected<std::string, std::string> mmhost::plugin::run(std::span<const std::string_view>) {
    if (auto done = region::transform(uppercase); !done) return std::unexpected(message(done.error()));
    return "";
}
