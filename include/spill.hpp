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
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
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

using reap_stats = spill_reap_stats;

// When spill_open reaps: not at all, first (the default), or on a thread of its own.
enum class reap_mode { none = SPILL_REAP_NONE, sync = SPILL_REAP_SYNC, background = SPILL_REAP_BACKGROUND };

// Options for open, reap, scan and adopt: the library's defaults, changed one setter at a time.
class options {
public:
    using progress_fn = std::function<bool(const reap_stats &)>;
    // adopt's verify: a chunk's address (SPILL_ADDR_LEN bytes) and its bytes read back
    using verify_fn = std::function<bool(const std::uint8_t *addr, const void *data, std::size_t len)>;
    options() { detail::check(spill_opts_init_version(&o_, SPILL_OPTS_VERSION)); }
    options &grace(std::chrono::seconds s) { o_.grace_seconds = static_cast<uint32_t>(s.count()); return *this; }
    options &reap_on_open(bool on) { o_.reap_on_open = on ? SPILL_REAP_SYNC : SPILL_REAP_NONE; return *this; }
    options &reap_on_open(reap_mode m) { o_.reap_on_open = static_cast<int>(m); return *this; }
    // open returns without waiting for its reap, which runs on a thread of its own (one per root
    // per process, shared by the handles on it; the last handle's close stops it). Its log and
    // progress functions are called from that thread after open returns; the handles keep them.
    options &background() { return reap_on_open(reap_mode::background); }
    // Called during a reap at most every progress_interval (default 200 ms) and once at the end,
    // on the thread that runs the reap; returning true stops it (cancelled is 1). An exception
    // stops it too.
    options &progress(progress_fn f) { progress_ = std::move(f); return *this; }
    options &progress_interval(std::chrono::milliseconds ms) { o_.progress_ms = static_cast<uint32_t>(ms.count() > 0 ? ms.count() : 0); return *this; }
    // open and adopt: should this process die, its spill stays resumable (for adopt) this long.
    options &keep(std::chrono::seconds s) { o_.keep_seconds = static_cast<uint32_t>(s.count()); return *this; }
    // reap: remove resumable orphans at once too.
    options &reap_resumable(bool on) { o_.reap_resumable = on; return *this; }
    bool is_background() const noexcept { return o_.reap_on_open == SPILL_REAP_BACKGROUND; }
    options &reap_budget(std::chrono::milliseconds ms) { o_.reap_budget_ms = static_cast<uint32_t>(ms.count() > 0 ? ms.count() : 1); return *this; }
    // open needs n bytes plus 10% free; it is also the spill's first reservation, which the
    // other processes on the root count
    options &expected_bytes(std::uint64_t n) { o_.expected_bytes = n; return *this; }
    // open: the most this user's live spills under the root may hold together (0, the default:
    // no limit); an open or a put that would go past it throws SPILL_ENOSPC, before any byte
    // is written
    options &root_limit(std::uint64_t bytes) { o_.root_limit_bytes = bytes; return *this; }
    options &threads(unsigned n) { o_.threads = n; return *this; }
    options &tag(std::string_view t) { tag_ = std::string(t); return *this; }
    options &dry_run(bool on) { o_.dry_run = on; return *this; }
    // adopt only: called on the calling thread for each chunk the killed run's journal proves
    // complete, with its bytes read back, before anything in the orphan changes. true: the chunk
    // is what its address says (adopted); false: it is not (removed, not adopted). An exception
    // fails the adopt with nothing removed and is rethrown by adopt once spill_adopt returns.
    options &verify(verify_fn f) { verify_ = std::move(f); return *this; }
    const verify_fn &verify() const noexcept { return verify_; }
    // Receives log lines (0 error .. 3 debug) on the calling thread, during the call.
    options &log(std::function<void(int, std::string_view)> f) { log_ = std::move(f); return *this; }

    // The C struct for one call; valid while this object lives unchanged.
    const spill_opts *get() const
    {
        o_.tag = tag_.empty() ? nullptr : tag_.c_str();
        o_.log = log_ ? &options::line : nullptr;
        o_.log_ctx = log_ ? const_cast<std::function<void(int, std::string_view)> *>(&log_) : nullptr;
        o_.progress = progress_ ? &options::call : nullptr;
        o_.progress_ctx = progress_ ? const_cast<progress_fn *>(&progress_) : nullptr;
        o_.verify = nullptr; // set per call by adopt, which keeps an exception of its own
        o_.verify_ctx = nullptr;
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
    static int call(void *ctx, const spill_reap_stats *so_far)
    {
        try {
            return (*static_cast<progress_fn *>(ctx))(*so_far) ? 1 : 0;
        } catch (...) { // an exception must not cross into C: it stops the reap
            return 1;
        }
    }
    mutable spill_opts o_;
    std::string tag_;
    std::function<void(int, std::string_view)> log_;
    progress_fn progress_;
    verify_fn verify_;
};

namespace detail {
// The C library runs one background reap per root per process with the functions of the open
// that started it, until the last handle on that root closes: a handle's functions may be
// called after that handle closed. They are kept here per root (its canonical path) until the
// last background handle on it has closed.
class background {
public:
    using kept = std::shared_ptr<const options>;
    static std::string attach(const std::string &spill_dir, kept o)
    {
        std::error_code ec;
        std::string key = std::filesystem::canonical(std::filesystem::path(spill_dir).parent_path(), ec).string();
        std::lock_guard<std::mutex> g(mu());
        auto &e = roots()[ec ? std::string() : key]; // "": kept for the process's life
        e.first += ec ? 0 : 1;
        e.second.push_back(std::move(o));
        return ec ? std::string() : key;
    }
    static void detach(const std::string &key)
    {
        std::vector<kept> gone; // released outside the lock
        {
            std::lock_guard<std::mutex> g(mu());
            auto it = roots().find(key);
            if (key.empty() || it == roots().end())
                return;
            if (--it->second.first == 0) {
                gone.swap(it->second.second);
                roots().erase(it);
            }
        }
    }

private:
    static std::mutex &mu()
    {
        static std::mutex m;
        return m;
    }
    static std::map<std::string, std::pair<unsigned, std::vector<kept>>> &roots()
    {
        static std::map<std::string, std::pair<unsigned, std::vector<kept>>> r;
        return r;
    }
};
} // namespace detail

class handle;
handle adopt(std::string_view root, std::string_view tag, const options &opts);

// One live spill directory; the destructor removes it (close() reports a failure instead).
class handle {
public:
    // The handle keeps a copy of opts: what its pointers point to (the tag, the log function)
    // stays valid for the handle's life, as the library may call back after spill_open.
    handle(std::string_view root, const options &opts = options())
        : opts_(std::make_shared<const options>(opts))
    {
        detail::check(spill_open(std::string(root).c_str(), opts_->get(), &s_));
        if (opts_->is_background()) {
            bg_ = detail::background::attach(path(), opts_);
            background_ = true;
        }
    }
    handle(handle &&o) noexcept
        : s_(std::exchange(o.s_, nullptr)), opts_(std::move(o.opts_)), bg_(std::move(o.bg_)),
          background_(std::exchange(o.background_, false))
    {
    }
    handle &operator=(handle &&o) noexcept
    {
        if (this != &o) {
            reset();
            s_ = std::exchange(o.s_, nullptr);
            opts_ = std::move(o.opts_);
            bg_ = std::move(o.bg_);
            background_ = std::exchange(o.background_, false);
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
    // Refused (SPILL_EINVAL, the handle kept) from its own background reap's progress or log.
    void close()
    {
        int rc = spill_close(s_);
        if (rc == SPILL_EINVAL && background_)
            detail::check(rc); // still open: the reap may call again
        s_ = nullptr;
        closed();
        detail::check(rc);
    }

private:
    friend handle adopt(std::string_view root, std::string_view tag, const options &opts);
    handle(spill_t *s, const options &opts) : s_(s), opts_(std::make_shared<const options>(opts)) {}
    void closed() noexcept
    {
        opts_.reset();
        if (background_)
            detail::background::detach(bg_);
        background_ = false;
    }
    spill_t *live()
    {
        if (!s_)
            throw error(SPILL_EINVAL, 0, "", "", "spill: the handle is closed");
        return s_;
    }
    void reset() noexcept
    {
        if (!s_)
            return;
        if (spill_close(std::exchange(s_, nullptr)) == SPILL_EINVAL && background_) {
            // refused from its own reap's callback: the C handle stays, and so do its functions
            new std::shared_ptr<const options>(std::move(opts_)); // NOLINT: a deliberate leak
            background_ = false;
            return;
        }
        closed();
    }
    spill_t *s_ = nullptr;
    std::shared_ptr<const options> opts_;
    std::string bg_;          // the root whose background reap this handle shares
    bool background_ = false; // counted in detail::background
};

// Resumes a killed job: takes over the newest orphan under root whose owner carried tag and can
// prove its chunks complete (opened with keep, or journaled), as a live handle holding those
// chunks in the order they were written. error with SPILL_EBUSY when only live spills carry the
// tag, SPILL_ENOTFOUND when none does.
// With opts.verify, only the chunks it accepts are adopted; an exception thrown in it fails the
// adopt with nothing removed (SPILL_VERIFY_STOP) and is rethrown here.
inline handle adopt(std::string_view root, std::string_view tag, const options &opts = options())
{
    struct verify_call {
        const options::verify_fn *f;
        std::exception_ptr thrown;
        static int chunk(void *ctx, const std::uint8_t *addr, const void *data, std::size_t len)
        {
            auto *call = static_cast<verify_call *>(ctx);
            try {
                return (*call->f)(addr, data, len) ? 0 : 1;
            } catch (...) { // must not cross into C, nor accept: the adopt stops
                call->thrown = std::current_exception();
                return SPILL_VERIFY_STOP;
            }
        }
    } call{&opts.verify(), nullptr};
    spill_opts o = *opts.get();
    if (opts.verify()) {
        o.verify = &verify_call::chunk;
        o.verify_ctx = &call;
    }
    spill_t *s = nullptr;
    int rc = spill_adopt(std::string(root).c_str(), std::string(tag).c_str(), &o, &s);
    if (call.thrown) // spill_adopt stopped at it and returned no handle
        std::rethrow_exception(call.thrown);
    detail::check(rc);
    return handle(s, opts);
}

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
    // 0.3: a live spill's reservation (0: none known) and the root limit its owner enforces
    // (0: none)
    std::uint64_t reserved_bytes = 0, limit_bytes = 0;
};

inline std::vector<entry> scan(std::string_view root, const options &opts = options())
{
    std::vector<entry> out;
    auto each = [](void *ctx, const spill_entry *e) -> int {
        try {
            static_cast<std::vector<entry> *>(ctx)->push_back(
                {detail::str(e->name), e->state, e->age_seconds, e->bytes, e->files, e->owner_pid,
                 detail::str(e->owner_host), detail::str(e->tag), detail::str(e->reason),
                 e->reserved_bytes, e->limit_bytes});
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
