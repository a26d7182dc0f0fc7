// spill.hpp: a header-only C++17 wrapper of spill.h: an RAII handle that closes (removes its
// directory) in its destructor, errors as spillpp::error carrying spill_error's fields. The
// namespace is spillpp: spill.h's `struct spill` already takes the name spill.
#ifndef SPILL_HPP
#define SPILL_HPP

#include "spill.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#if __cplusplus >= 202002L
#include <span>
#endif

namespace spillpp {

using addr = std::array<std::uint8_t, SPILL_ADDR_LEN>;

// A failed call: the spill_err code, the OS error, the operation, the path and the message.
class error : public std::runtime_error {
public:
    error(int code, int os_error, std::string op, std::string path, const std::string &message)
        : std::runtime_error(message), code_(code), os_error_(os_error), op_(std::move(op)),
          path_(std::move(path))
    {
    }
    // This thread's last failure, which returned rc.
    static error last(int rc)
    {
        const spill_error *e = spill_error_last();
        if (e->code != rc)
            return error(rc, 0, "", "", spill_strerror(rc));
        return error(rc, e->os_error, e->op, e->path, e->message);
    }
    int code() const noexcept { return code_; } // a spill_err
    int os_error() const noexcept { return os_error_; }
    const std::string &op() const noexcept { return op_; }
    const std::string &path() const noexcept { return path_; }
    std::string message() const { return what(); }

private:
    int code_, os_error_;
    std::string op_, path_;
};

namespace detail {
inline void check(int rc)
{
    if (rc != SPILL_OK)
        throw error::last(rc);
}
inline std::string str(const char *s) { return s ? s : ""; }
} // namespace detail

// Options for open, reap and scan: the library's defaults, changed one setter at a time.
class options {
public:
    options() { detail::check(spill_opts_init_version(&o_, SPILL_OPTS_VERSION)); }
    options &grace(std::chrono::seconds s) { o_.grace_seconds = static_cast<uint32_t>(s.count()); return *this; }
    options &reap_on_open(bool on) { o_.reap_on_open = on; return *this; }
    options &reap_budget(std::chrono::milliseconds ms) { o_.reap_budget_ms = static_cast<uint32_t>(ms.count() > 0 ? ms.count() : 1); return *this; }
    options &expected_bytes(std::uint64_t n) { o_.expected_bytes = n; return *this; }
    options &threads(unsigned n) { o_.threads = n; return *this; }
    options &tag(std::string_view t) { tag_ = std::string(t); return *this; }
    options &dry_run(bool on) { o_.dry_run = on; return *this; }
    // Receives log lines (0 error .. 3 debug) on the calling thread, during the call.
    options &log(std::function<void(int, std::string_view)> f) { log_ = std::move(f); return *this; }

    // The C struct for one call; valid while this object lives unchanged.
    const spill_opts *get() const
    {
        o_.tag = tag_.empty() ? nullptr : tag_.c_str();
        o_.log = log_ ? &options::line : nullptr;
        o_.log_ctx = log_ ? const_cast<std::function<void(int, std::string_view)> *>(&log_) : nullptr;
        return &o_;
    }

private:
    static void line(void *ctx, int level, const char *msg)
    {
        try {
            (*static_cast<std::function<void(int, std::string_view)> *>(ctx))(level, msg);
        } catch (...) { // an exception must not cross into C
        }
    }
    mutable spill_opts o_;
    std::string tag_;
    std::function<void(int, std::string_view)> log_;
};

// One live spill directory; the destructor removes it (close() reports a failure instead).
class handle {
public:
    // The handle keeps a copy of opts: what its pointers point to (the tag, the log function)
    // stays valid for the handle's life, as the library may call back after spill_open.
    handle(std::string_view root, const options &opts = options())
        : opts_(std::make_shared<const options>(opts))
    {
        detail::check(spill_open(std::string(root).c_str(), opts_->get(), &s_));
    }
    handle(handle &&o) noexcept : s_(std::exchange(o.s_, nullptr)), opts_(std::move(o.opts_)) {}
    handle &operator=(handle &&o) noexcept
    {
        if (this != &o) {
            reset();
            s_ = std::exchange(o.s_, nullptr);
            opts_ = std::move(o.opts_);
        }
        return *this;
    }
    handle(const handle &) = delete;
    handle &operator=(const handle &) = delete;
    ~handle() { reset(); }

    void put(const addr &a, const void *data, std::size_t len) { detail::check(spill_put(live(), a.data(), data, len)); }
    void put(const addr &a, std::string_view data) { put(a, data.data(), data.size()); }
    template <class T>
    void put(const addr &a, const std::vector<T> &data) { put(a, data.data(), data.size() * sizeof(T)); }
#if __cplusplus >= 202002L
    void put(const addr &a, std::span<const std::byte> data) { put(a, data.data(), data.size()); }
#endif
    std::vector<std::uint8_t> get(const addr &a)
    {
        void *p = nullptr;
        std::size_t n = 0;
        detail::check(spill_get(live(), a.data(), &p, &n));
        std::vector<std::uint8_t> out(static_cast<std::uint8_t *>(p), static_cast<std::uint8_t *>(p) + n);
        spill_free(p);
        return out;
    }
    void remove(const addr &a) { detail::check(spill_remove(live(), a.data())); }
    std::size_t size() const { return spill_count(s_); }
    std::uint64_t total_bytes() const { return spill_total_bytes(s_); }
    std::vector<addr> addrs() const
    {
        std::vector<addr> out(size());
        for (std::size_t i = 0; i < out.size(); i++)
            detail::check(spill_addr(s_, i, out[i].data()));
        return out;
    }
    std::string path() const { return detail::str(spill_path(s_)); }
    explicit operator bool() const noexcept { return s_ != nullptr; }
    // Removes the directory now; the handle is empty afterwards, whatever happens.
    void close()
    {
        int rc = spill_close(std::exchange(s_, nullptr));
        opts_.reset();
        detail::check(rc);
    }

private:
    spill_t *live()
    {
        if (!s_)
            throw error(SPILL_EINVAL, 0, "", "", "spill: the handle is closed");
        return s_;
    }
    void reset() noexcept
    {
        if (s_)
            spill_close(std::exchange(s_, nullptr));
    }
    spill_t *s_ = nullptr;
    std::shared_ptr<const options> opts_;
};

using reap_stats = spill_reap_stats;

inline reap_stats reap(std::string_view root, const options &opts = options())
{
    reap_stats st{};
    st.version = SPILL_REAP_STATS_VERSION;
    detail::check(spill_reap(std::string(root).c_str(), opts.get(), &st));
    return st;
}

// One spill-named child of the root, as scan judged it.
struct entry {
    std::string name;
    spill_state state;
    std::int64_t age_seconds;
    std::uint64_t bytes, files;
    std::int64_t owner_pid; // -1 unknown
    std::string owner_host, tag, reason;
};

inline std::vector<entry> scan(std::string_view root, const options &opts = options())
{
    std::vector<entry> out;
    auto each = [](void *ctx, const spill_entry *e) -> int {
        try {
            static_cast<std::vector<entry> *>(ctx)->push_back(
                {detail::str(e->name), e->state, e->age_seconds, e->bytes, e->files, e->owner_pid,
                 detail::str(e->owner_host), detail::str(e->tag), detail::str(e->reason)});
            return 0;
        } catch (...) {
            return SPILL_ENOMEM; // stops the scan, and is returned
        }
    };
    detail::check(spill_scan(std::string(root).c_str(), opts.get(), each, &out));
    return out;
}

inline std::string default_root(std::string_view app)
{
    std::vector<char> buf(4096);
    int rc;
    while ((rc = spill_default_root(std::string(app).c_str(), buf.data(), buf.size())) == SPILL_ERANGE &&
           buf.size() < (1u << 20))
        buf.resize(buf.size() * 4);
    detail::check(rc);
    return buf.data();
}

} // namespace spillpp

#endif // SPILL_HPP
