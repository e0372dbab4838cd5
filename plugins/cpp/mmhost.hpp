// mmhost.hpp: the guest library for mmhost plugins in C++23, the
// counterpart of plugins/mmhost-guest (Rust) and plugins/c/mmhost_guest.h.
//
// It owns the plugin's view of wit/mmhost.wit's `transform` world: the
// region calls as functions returning std::expected, buffers the host
// allocates as move-only RAII owners (std::span views), chunked reads as a
// range, and the error messages of the Rust library. mmhost.cpp, compiled
// with every plugin, holds the canonical-ABI side: the imports, the `run`
// export, `cabi_realloc`, and replacements for operator new/delete and
// libc++'s verbose-abort hook, so that a plugin imports nothing but mmhost's
// interfaces (no stdio, no WASI, no adapter). No bindings generator is
// involved: the module is wrapped with mmhost's own WIT by `mmhost wrap`.
//
// A plugin defines one function:
//
//     std::expected<std::string, std::string>
//     mmhost::plugin::run(std::span<const std::string_view> args);
//
// `ok` text is printed on stdout, `err` text on stderr (exit code 1). Build
// without exceptions and RTTI (-fno-exceptions -fno-rtti); a failed
// allocation or a libc++ assertion traps after logging a message.
#ifndef MMHOST_HPP
#define MMHOST_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mmhost {

/// Bytes per chunk: 1 MiB, as in the Rust library.
inline constexpr std::uint64_t default_chunk = std::uint64_t{1} << 20;

/// `[at, at + len)` is not inside a region of `size` bytes.
struct OutOfRange {
    std::int64_t at;
    std::uint64_t len;
    std::uint64_t size;
};
/// The run is read-only: no `--in-place` or `--output`.
struct ReadOnly {};
/// A read of `len` bytes exceeds the host's `limit` per read.
struct TooLarge {
    std::uint64_t len;
    std::uint64_t limit;
};
/// `locate` named segment `segment`, but the region has `count`.
struct NoSuchSegment {
    std::uint32_t segment;
    std::uint32_t count;
};

/// Why a region call failed. The host never traps on a bad offset.
using Error = std::variant<OutOfRange, ReadOnly, TooLarge, NoSuchSegment>;

/// The message the Rust library gives for `e` (plugins print it as is).
std::string message(const Error& e);

template <class T>
using Result = std::expected<T, Error>;

/// A buffer the host allocated in the plugin's memory (a `read` or `find`
/// result), freed when the owner goes out of scope. Move-only.
template <class T>
class Buffer {
public:
    Buffer() = default;
    Buffer(T* ptr, std::size_t len) : ptr_(ptr), len_(len) {}
    Buffer(Buffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
    Buffer& operator=(Buffer&& o) noexcept {
        if (this != &o) {
            release();
            ptr_ = std::exchange(o.ptr_, nullptr);
            len_ = std::exchange(o.len_, 0);
        }
        return *this;
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { release(); }

    std::span<T> span() const { return {ptr_, len_}; }
    T* data() const { return ptr_; }
    std::size_t size() const { return len_; }
    bool empty() const { return len_ == 0; }
    T* begin() const { return ptr_; }
    T* end() const { return ptr_ + len_; }
    T& operator[](std::size_t i) const { return ptr_[i]; }

private:
    void release();
    T* ptr_ = nullptr;
    std::size_t len_ = 0;
};

/// Frees what `cabi_realloc` allocated (nothing for a zero-length buffer,
/// whose pointer is not an allocation).
void free_host_buffer(void* ptr, std::size_t len);

template <class T>
void Buffer<T>::release() {
    free_host_buffer(ptr_, len_);
    ptr_ = nullptr;
    len_ = 0;
}

/// The mapped region: every input file, concatenated. Offsets are global;
/// a negative offset counts from the end (-1 is the last byte).
namespace region {

/// The size of the region in bytes.
std::uint64_t size();
/// Whether writes are allowed (`--in-place` or `--output`).
bool writable();
/// Reads `len` bytes at `at`: no short reads, at most 64 MiB per read.
Result<Buffer<std::uint8_t>> read(std::int64_t at, std::uint64_t len);
/// Writes `data` at `at`; never changes any size.
Result<void> write(std::int64_t at, std::span<const std::uint8_t> data);
/// The global offset of byte `delta` of segment `segment`.
Result<std::uint64_t> locate(std::uint32_t segment, std::int64_t delta);
/// Up to `limit` offsets of non-overlapping occurrences of `pattern` wholly
/// inside `[start, end)`, leftmost first, searched by the host (SIMD memmem
/// over the mapping). An empty pattern finds nothing.
Result<Buffer<std::uint64_t>> find(std::span<const std::uint8_t> pattern, std::uint64_t start, std::uint64_t end,
                                   std::uint32_t limit);
/// The SHA-256 of the `len` bytes at `at`, computed by the host over the
/// mapping (no copy into the plugin, no read limit).
Result<std::array<std::uint8_t, 32>> sha256(std::int64_t at, std::uint64_t len);

/// One chunk: its global offset and its bytes (valid until the iterator
/// moves on).
struct Chunk {
    std::uint64_t offset;
    std::span<std::uint8_t> bytes;
};

/// `[start, end)` in chunks of `chunk_size` new bytes, as a range of
/// `Result<Chunk>`: iteration stops after the first error. With an overlap
/// of k, each chunk after the first also starts with the last k bytes of
/// the one before, so that a search sees matches straddling two chunks.
/// Reports progress as it goes.
///
///     for (auto chunk : mmhost::region::chunks()) {
///         if (!chunk) return std::unexpected(mmhost::message(chunk.error()));
///         use(chunk->offset, chunk->bytes);
///     }
class Chunks {
public:
    Chunks(std::uint64_t start, std::uint64_t end, std::uint64_t chunk_size = default_chunk,
           std::uint64_t overlap = 0)
        : start_(start), end_(end < start ? start : end), chunk_(chunk_size ? chunk_size : 1), overlap_(overlap) {}

    class iterator {
    public:
        using value_type = Result<Chunk>;
        using difference_type = std::ptrdiff_t;
        Result<Chunk> operator*() const;
        iterator& operator++();
        void operator++(int) { ++*this; }
        bool operator==(std::default_sentinel_t) const { return done_; }

    private:
        friend class Chunks;
        explicit iterator(Chunks* c) : c_(c) { ++*this; }
        Chunks* c_;
        bool done_ = false;
    };

    iterator begin() { return iterator(this); }
    std::default_sentinel_t end() const { return {}; }

private:
    std::uint64_t start_, end_, chunk_, overlap_;
    std::uint64_t pos_ = start_;
    std::uint64_t offset_ = 0;
    Buffer<std::uint8_t> current_;
    std::expected<void, Error> status_;
};

/// The whole region in chunks of 1 MiB.
inline Chunks chunks() { return Chunks(0, size()); }

/// Reads each chunk of `[start, end)`, lets `f(offset, bytes)` change it in
/// place and writes it back. `ReadOnly` unless the run is writable.
template <class F>
Result<void> transform(F&& f, std::uint64_t start, std::uint64_t end, std::uint64_t chunk_size = default_chunk) {
    if (!writable()) return std::unexpected(Error{ReadOnly{}});
    for (auto chunk : Chunks(start, end, chunk_size)) {
        if (!chunk) return std::unexpected(chunk.error());
        f(chunk->offset, chunk->bytes);
        if (auto w = write(static_cast<std::int64_t>(chunk->offset), chunk->bytes); !w) return w;
    }
    return {};
}

/// `transform` over the whole region.
template <class F>
Result<void> transform(F&& f) {
    return transform(std::forward<F>(f), 0, size());
}

}  // namespace region

/// Severity of a log message; the user picks which show (`-v`, `-q`).
enum class Level : std::uint8_t { trace, debug, info, warn, error };

/// Writes `message` to mmhost's stderr, prefixed with the plugin's name.
void log(Level level, std::string_view message);
/// Reports progress, at most once per 1% of `total` (and at the end).
void progress(std::uint64_t done, std::uint64_t total);
/// Appends bytes to the plugin's output (mmhost's stdout).
void emit(std::span<const std::uint8_t> data);
/// The step's configuration in a job file as JSON text (`null` if none).
std::string config();

/// Logs `message` at error level, then traps: mmhost exits with code 5 and
/// shows a backtrace. For bugs, as a Rust panic is; return
/// `std::unexpected` for errors the user can fix.
[[noreturn]] void panic(std::string_view message);

/// The decimal digits of `v`.
std::string decimal(std::uint64_t v);
/// Views text as bytes (for patterns).
inline std::span<const std::uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

namespace plugin {
/// Defined by the plugin: its arguments (after `--`, or the step's `args`);
/// `ok` text for stdout or `err` text for stderr.
std::expected<std::string, std::string> run(std::span<const std::string_view> args);
}  // namespace plugin

}  // namespace mmhost

#endif
