// The canonical-ABI side of mmhost.hpp: the imports in their lowered form,
// the `run` export, `cabi_realloc`, `cabi_post_run`, and the replacements
// that keep libc++'s stdio out of the module (operator new/delete, the
// verbose-abort hook). Compiled once into every plugin.
#include "mmhost.hpp"

#include <__verbose_abort>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

namespace {

// The imports, named as the component model names the world's functions
// (mmhost:plugin/<interface>@0.1.3; changes within 0.1.x only add).
#define MMHOST_IMPORT(interface, name) \
    __attribute__((import_module("mmhost:plugin/" interface "@0.1.3"), import_name(name)))

// A list<u8> or string, and the return area of a result<T, error>: byte 0
// the discriminant, the payload at 8 (ok: a list, or a u64 for locate; err:
// the error's tag at 8 and its payload at 16).
struct WitList {
    void* ptr;
    std::size_t len;
};
struct alignas(8) ResultArea {
    std::uint8_t is_err;
    std::uint8_t pad[7];
    std::uint8_t payload[32];

    template <class T>
    T at(std::size_t offset) const {
        T v;
        std::memcpy(&v, payload + offset, sizeof v);
        return v;
    }
    WitList list() const { return {reinterpret_cast<void*>(at<std::uint32_t>(0)), at<std::uint32_t>(4)}; }
    mmhost::Error error(std::uint64_t len, std::uint32_t segment) const {
        switch (payload[0]) {
        case 0:
            return mmhost::OutOfRange{at<std::int64_t>(8), at<std::uint64_t>(16), at<std::uint64_t>(24)};
        case 1:
            return mmhost::ReadOnly{};
        case 2:
            return mmhost::TooLarge{len, at<std::uint64_t>(8)};
        default:
            return mmhost::NoSuchSegment{segment, at<std::uint32_t>(8)};
        }
    }
};

extern "C" {
MMHOST_IMPORT("region", "size") std::uint64_t wit_size();
MMHOST_IMPORT("region", "writable") bool wit_writable();
MMHOST_IMPORT("region", "read") void wit_read(std::int64_t at, std::uint64_t len, ResultArea* ret);
MMHOST_IMPORT("region", "write")
void wit_write(std::int64_t at, const std::uint8_t* ptr, std::size_t len, ResultArea* ret);
MMHOST_IMPORT("region", "locate") void wit_locate(std::uint32_t segment, std::int64_t delta, ResultArea* ret);
MMHOST_IMPORT("region", "find")
void wit_find(const std::uint8_t* ptr, std::size_t len, std::uint64_t start, std::uint64_t end, std::uint32_t limit,
              ResultArea* ret);
MMHOST_IMPORT("region", "digest")
void wit_digest(std::uint32_t algorithm, std::int64_t at, std::uint64_t len, ResultArea* ret);
MMHOST_IMPORT("host", "log") void wit_log(std::uint32_t level, const char* ptr, std::size_t len);
MMHOST_IMPORT("host", "progress") void wit_progress(std::uint64_t done, std::uint64_t total);
MMHOST_IMPORT("output", "emit") void wit_emit(const std::uint8_t* ptr, std::size_t len);
MMHOST_IMPORT("config", "get") void wit_config(WitList* ret);
}

template <class T>
mmhost::Buffer<T> owned(WitList l) {
    return {static_cast<T*>(l.ptr), l.len};
}

[[noreturn]] void die(std::string_view why) {
    wit_log(static_cast<std::uint32_t>(mmhost::Level::error), why.data(), why.size());
    __builtin_trap();
}

}  // namespace

namespace mmhost {

void panic(std::string_view message) { die(message); }

std::string decimal(std::uint64_t v) {
    char buf[20];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, end);
}

static std::string signed_decimal(std::int64_t v) {
    char buf[21];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, end);
}

std::string message(const Error& e) {
    struct Visitor {
        std::string operator()(const OutOfRange& r) const {
            return "access of " + decimal(r.len) + " bytes at offset " + signed_decimal(r.at) +
                   " is out of range for a region of " + decimal(r.size) + " bytes";
        }
        std::string operator()(ReadOnly) const { return "region is read-only (run with --in-place or --output)"; }
        std::string operator()(const TooLarge& t) const {
            return "read of " + decimal(t.len) + " bytes exceeds the host's limit of " + decimal(t.limit) +
                   " bytes per read (read in chunks)";
        }
        std::string operator()(const NoSuchSegment& s) const {
            return "no segment " + decimal(s.segment) + ": the region has " + decimal(s.count) +
                   (s.count == 1 ? " segment" : " segments");
        }
    };
    return std::visit(Visitor{}, e);
}

void free_host_buffer(void* ptr, std::size_t len) {
    if (len != 0) std::free(ptr);
}

namespace region {

std::uint64_t size() { return wit_size(); }

bool writable() { return wit_writable(); }

Result<Buffer<std::uint8_t>> read(std::int64_t at, std::uint64_t len) {
    ResultArea ret;
    wit_read(at, len, &ret);
    if (ret.is_err) return std::unexpected(ret.error(len, 0));
    return owned<std::uint8_t>(ret.list());
}

Result<void> write(std::int64_t at, std::span<const std::uint8_t> data) {
    ResultArea ret;
    wit_write(at, data.data(), data.size(), &ret);
    if (ret.is_err) return std::unexpected(ret.error(data.size(), 0));
    return {};
}

Result<std::uint64_t> locate(std::uint32_t segment, std::int64_t delta) {
    ResultArea ret;
    wit_locate(segment, delta, &ret);
    if (ret.is_err) return std::unexpected(ret.error(0, segment));
    return ret.at<std::uint64_t>(0);
}

Result<Buffer<std::uint64_t>> find(std::span<const std::uint8_t> pattern, std::uint64_t start, std::uint64_t end,
                                   std::uint32_t limit) {
    ResultArea ret;
    wit_find(pattern.data(), pattern.size(), start, end, limit, &ret);
    if (ret.is_err) return std::unexpected(ret.error(end > start ? end - start : 0, 0));
    return owned<std::uint64_t>(ret.list());
}

Result<std::array<std::uint8_t, 32>> sha256(std::int64_t at, std::uint64_t len) {
    ResultArea ret;
    wit_digest(0, at, len, &ret);
    if (ret.is_err) return std::unexpected(ret.error(len, 0));
    auto digest = owned<std::uint8_t>(ret.list());
    if (digest.size() != 32) die("region.digest returned other than 32 bytes");
    std::array<std::uint8_t, 32> out;
    std::memcpy(out.data(), digest.data(), out.size());
    return out;
}

Result<Chunk> Chunks::iterator::operator*() const {
    if (!c_->status_) return std::unexpected(c_->status_.error());
    return Chunk{c_->offset_, c_->current_.span()};
}

Chunks::iterator& Chunks::iterator::operator++() {
    Chunks& c = *c_;
    c.current_ = {};
    // After an error was yielded, or past the end: done.
    if (!c.status_ || c.pos_ >= c.end_) {
        done_ = true;
        return *this;
    }
    std::uint64_t upto = c.end_ - c.pos_ < c.chunk_ ? c.end_ : c.pos_ + c.chunk_;
    std::uint64_t from = c.pos_;
    if (c.pos_ != c.start_) from = c.pos_ - c.start_ < c.overlap_ ? c.start_ : c.pos_ - c.overlap_;
    auto bytes = read(static_cast<std::int64_t>(from), upto - from);
    if (!bytes) {
        c.status_ = std::unexpected(bytes.error());
        c.pos_ = c.end_;  // the error is the last item
        return *this;
    }
    c.current_ = std::move(*bytes);
    c.offset_ = from;
    c.pos_ = upto;
    progress(c.pos_ - c.start_, c.end_ - c.start_);
    return *this;
}

}  // namespace region

void log(Level level, std::string_view message) {
    wit_log(static_cast<std::uint32_t>(level), message.data(), message.size());
}

void progress(std::uint64_t done, std::uint64_t total) {
    static std::uint64_t last = 0;
    std::uint64_t step = total / 100 ? total / 100 : 1;
    if (done >= total || done - last >= step || done < last) {
        last = done;
        wit_progress(done, total);
    }
}

void emit(std::span<const std::uint8_t> data) { wit_emit(data.data(), data.size()); }

std::string config() {
    WitList l;
    wit_config(&l);
    auto text = owned<char>(l);
    return std::string(text.data(), text.size());
}

}  // namespace mmhost

// --- Exports ---------------------------------------------------------------

// The host allocates run's arguments and every list it returns in our memory
// through this. A zero-size allocation is the (never dereferenced, never
// freed) address `align`: free_host_buffer skips empty buffers. malloc's
// alignment (16) covers every alignment the world needs (at most 8).
extern "C" __attribute__((export_name("cabi_realloc"))) void* cabi_realloc(void* old, std::size_t old_size,
                                                                           std::size_t align,
                                                                           std::size_t new_size) {
    if (new_size == 0) {
        if (old_size != 0) std::free(old);
        return reinterpret_cast<void*>(align);
    }
    void* p = old_size == 0 ? nullptr : old;
    p = align <= alignof(std::max_align_t) ? std::realloc(p, new_size) : nullptr;
    if (!p) die("cabi_realloc: out of memory");
    return p;
}

namespace {

// run's return area: result<string, string>, and the text it points to,
// kept until cabi_post_run.
struct RunResult {
    std::uint8_t is_err;
    const char* ptr;
    std::size_t len;
};
RunResult run_result;
std::string run_text;

}  // namespace

extern "C" __attribute__((export_name("run"))) RunResult* run(WitList* args, std::size_t n) {
    std::vector<std::string_view> views;
    views.reserve(n);
    for (std::size_t i = 0; i < n; i++) views.emplace_back(static_cast<const char*>(args[i].ptr), args[i].len);
    auto result = mmhost::plugin::run(views);
    for (std::size_t i = 0; i < n; i++) mmhost::free_host_buffer(args[i].ptr, args[i].len);
    mmhost::free_host_buffer(args, n);
    run_result.is_err = !result;
    run_text = result ? std::move(*result) : std::move(result.error());
    run_result.ptr = run_text.data();
    run_result.len = run_text.size();
    return &run_result;
}

extern "C" __attribute__((export_name("cabi_post_run"))) void cabi_post_run(RunResult*) {
    run_text = std::string();
}

// --- No stdio --------------------------------------------------------------
// libc++'s operator new reports failure through exceptions or stdio, and its
// assertions print through std::__libcpp_verbose_abort: either would import
// WASI's fd_write. These replacements log through mmhost and trap.

void* operator new(std::size_t n) {
    if (void* p = std::malloc(n ? n : 1)) return p;
    die("out of memory");
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n ? n : 1); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n ? n : 1); }
void* operator new(std::size_t n, std::align_val_t a) {
    std::size_t align = static_cast<std::size_t>(a);
    if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align ? (n + align - 1) / align * align : align))
        return p;
    die("out of memory");
}
void* operator new[](std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

_LIBCPP_BEGIN_NAMESPACE_STD
// The format string is logged as is (formatting it would need stdio).
[[noreturn]] void __libcpp_verbose_abort(const char* format, ...) { die(format); }
_LIBCPP_END_NAMESPACE_STD

// libc++ declares std::string's members `extern template`: their one copy is
// in libc++.a's string.cpp.o, which also holds std::to_string and std::stod
// and so links in snprintf and stdio. Instantiating them here keeps that
// object file out.
template class std::basic_string<char>;
