// test_hpp.cpp: the C++ wrapper (include/spill.hpp) as a user sees it: round trip, the directory
// gone when the handle is destroyed or closed, errors as spillpp::error with spill_error's fields,
// reap and scan counts; 0.2: a background open, progress and its cancel, adopt after a SIGKILL;
// 0.3: adopt's verify (a rejected chunk removed, an exception rethrown with nothing removed),
// a reservation shown by scan and a root limit below it refusing the open.
// POSIX only (mkdtemp, stat, fork).
#include "spill.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>

static int failures;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

static bool exists(const std::string &p)
{
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

static spillpp::addr addr(std::uint8_t n)
{
    spillpp::addr a{};
    a[0] = n;
    a[31] = static_cast<std::uint8_t>(~n);
    return a;
}

static void round_trip(const std::string &root)
{
    std::string dir;
    {
        spillpp::handle s(root, spillpp::options().tag("cxx"));
        s.put(addr(1), std::string_view("hello"));
        s.put(addr(1), std::string_view("dedup: ignored"));
        s.put(addr(2), std::vector<std::uint8_t>(1000, 7));
        CHECK(s.get(addr(1)) == std::vector<std::uint8_t>({'h', 'e', 'l', 'l', 'o'}));
        CHECK(s.get(addr(2)) == std::vector<std::uint8_t>(1000, 7));
        CHECK(s.size() == 2 && s.total_bytes() == 1005);
        s.remove(addr(1));
        CHECK(s.addrs() == std::vector<spillpp::addr>({addr(2)}));
        try {
            s.get(addr(1));
            CHECK(!"get of a removed chunk succeeded");
        } catch (const spillpp::error &e) {
            CHECK(e.code() == SPILL_ENOTFOUND);
        }
        dir = s.path();
        CHECK(dir.rfind(root, 0) == 0 && exists(dir));
        spillpp::handle moved = std::move(s);
        CHECK(!s && moved && moved.path() == dir);
    }
    CHECK(!exists(dir)); // the destructor removed it
    spillpp::handle t(root);
    dir = t.path();
    t.close();
    CHECK(!exists(dir) && !t);
}

static void errors(const std::string &base)
{
    std::string file = base + "/a-file";
    std::FILE *f = std::fopen(file.c_str(), "w");
    std::fputs("not a directory", f);
    std::fclose(f);
    try {
        spillpp::handle s(file);
        CHECK(!"open under a file succeeded");
    } catch (const spillpp::error &e) {
        CHECK(e.code() < 0);
        CHECK(!e.message().empty() && e.message() == e.what());
        CHECK(e.path().find("a-file") != std::string::npos);
    }
}

static void reap_and_scan(const std::string &root)
{
    spillpp::handle live(root);
    std::string lockless = root + "/spill_1_42";
    CHECK(mkdir(lockless.c_str(), 0700) == 0);
    auto entries = spillpp::scan(root);
    CHECK(entries.size() == 2);
    for (const auto &e : entries)
        CHECK(e.name == "spill_1_42" ? e.state == SPILL_YOUNG : e.state == SPILL_LIVE);
    auto st = spillpp::reap(root);
    CHECK(st.scanned == 2 && st.live == 1 && st.young == 1 && st.reaped == 0);
    int lines = 0;
    st = spillpp::reap(root, spillpp::options().grace(std::chrono::seconds(0)).log(
                               [&](int, std::string_view) { lines++; }));
    CHECK(st.live == 1 && st.reaped == 1 && !exists(lockless) && lines > 0);
    CHECK(exists(live.path()));
}

static void reservation_and_limit(const std::string &root)
{
    const std::uint64_t mib = 1 << 20;
    spillpp::handle s(root, spillpp::options().expected_bytes(mib));
    std::string name = s.path().substr(s.path().rfind('/') + 1);
    auto find = [&root](const std::string &n) {
        for (const auto &e : spillpp::scan(root))
            if (e.name == n)
                return e;
        return spillpp::entry{};
    };
    spillpp::entry e = find(name);
    CHECK(e.state == SPILL_LIVE);
    // expected_bytes and the spill's own bookkeeping
    CHECK(e.reserved_bytes >= mib && e.reserved_bytes < 2 * mib);
    CHECK(e.limit_bytes == 0);
    std::size_t before = spillpp::scan(root).size();
    try {
        spillpp::handle refused(root, spillpp::options().expected_bytes(mib).root_limit(mib / 2));
        CHECK(!"an open past the root limit succeeded");
    } catch (const spillpp::error &err) {
        CHECK(err.code() == SPILL_ENOSPC);
    }
    CHECK(spillpp::scan(root).size() == before); // a refused open leaves nothing behind
    spillpp::handle limited(root, spillpp::options().expected_bytes(mib).root_limit(64 * mib));
    e = find(limited.path().substr(limited.path().rfind('/') + 1));
    CHECK(e.limit_bytes == 64 * mib && e.reserved_bytes >= mib);
}

static int children(const std::string &root)
{
    auto entries = spillpp::scan(root);
    return static_cast<int>(entries.size());
}

static void lockless_orphans(const std::string &root, int n, int files)
{
    mkdir(root.c_str(), 0700);
    for (int i = 0; i < n; i++) {
        std::string d = root + "/spill_1_" + std::to_string(i + 1);
        CHECK(mkdir(d.c_str(), 0700) == 0);
        for (int f = 0; f < files; f++) {
            std::FILE *fp = std::fopen((d + "/f" + std::to_string(f)).c_str(), "w");
            std::fputs("0123456789", fp);
            std::fclose(fp);
        }
    }
}

// Stats handed from the reap's thread to the test, waited for with a deadline (no sleeps).
struct mailbox {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<spillpp::reap_stats> q;
    void put(const spillpp::reap_stats &st)
    {
        std::lock_guard<std::mutex> g(mu);
        q.push_back(st);
        cv.notify_all();
    }
    bool take(spillpp::reap_stats &out)
    {
        std::unique_lock<std::mutex> g(mu);
        if (!cv.wait_for(g, std::chrono::seconds(30), [&] { return !q.empty(); }))
            return false;
        out = q.front();
        q.pop_front();
        return true;
    }
};

// The reap's first progress call waits for the test's word: open must return before it.
static void background_open(const std::string &root)
{
    lockless_orphans(root, 20, 3);
    auto box = std::make_shared<mailbox>();
    auto go = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
    auto said = std::make_shared<bool>(false);
    auto held = std::make_shared<std::atomic<bool>>(true);
    auto first = std::make_shared<bool>(true);
    spillpp::handle s(root, spillpp::options().background().grace(std::chrono::seconds(0))
                                .progress_interval(std::chrono::milliseconds(0))
                                .progress([=](const spillpp::reap_stats &st) {
                                    if (*first) {
                                        *first = false;
                                        std::unique_lock<std::mutex> g(go->first);
                                        if (!go->second.wait_for(g, std::chrono::seconds(20), [&] { return *said; }))
                                            *held = false;
                                    }
                                    box->put(st);
                                    return false;
                                }));
    CHECK(children(root) > 1); // open returned before its reap removed everything
    {
        std::lock_guard<std::mutex> g(go->first);
        *said = true;
        go->second.notify_all();
    }
    spillpp::reap_stats st{};
    bool all = false;
    while (box->take(st))
        if ((all = st.reaped == 20))
            break;
    CHECK(all && !st.cancelled && held->load());
    CHECK(children(root) == 1); // only the live one is left
    s.close();
}

// Two handles share one reap, run with the first open's function: it outlives that handle.
static void background_shared(const std::string &root)
{
    lockless_orphans(root, 30, 20);
    auto box = std::make_shared<mailbox>();
    auto a = std::make_unique<spillpp::handle>(
        root, spillpp::options().background().grace(std::chrono::seconds(0)).threads(1)
                  .progress_interval(std::chrono::milliseconds(0))
                  .progress([box](const spillpp::reap_stats &st) { box->put(st); return false; }));
    spillpp::handle b(root, spillpp::options().background());
    a.reset();
    spillpp::reap_stats st{};
    bool all = false;
    while (box->take(st))
        if ((all = st.reaped == 30))
            break;
    CHECK(all);
    b.close();
    CHECK(children(root) == 0);
}

static void progress_and_cancel(const std::string &root)
{
    lockless_orphans(root, 40, 5);
    int calls = 0;
    auto opts = spillpp::options().grace(std::chrono::seconds(0)).progress_interval(std::chrono::milliseconds(0));
    auto stopped = spillpp::reap(root, spillpp::options(opts).progress([&](const spillpp::reap_stats &) {
        calls++;
        return true;
    }));
    CHECK(stopped.cancelled && calls >= 1 && stopped.reaped < 40 && children(root) > 0);
    std::uint32_t last = 0;
    bool grows = true;
    auto rest = spillpp::reap(root, spillpp::options(opts).progress([&](const spillpp::reap_stats &st) {
        grows = grows && st.reaped >= last;
        last = st.reaped;
        return false;
    }));
    CHECK(!rest.cancelled && grows && last == rest.reaped && stopped.reaped + rest.reaped == 40);
    CHECK(children(root) == 0);
}

static std::string kept_chunk(int n)
{
    std::string s;
    for (int i = 0; i < 1000 * n + 7; i++)
        s.push_back(static_cast<char>((i * 31 ^ n) & 0xff));
    return s;
}

// A child holds a resumable job (keep) of five chunks, says where, and is SIGKILLed.
static std::string killed_keeper(const std::string &root)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        try {
            auto *s = new spillpp::handle(root, spillpp::options().tag("cxx-job").keep(std::chrono::seconds(600)));
            for (int n = 1; n <= 5; n++)
                s->put(addr(static_cast<std::uint8_t>(n)), std::string_view(kept_chunk(n)));
            std::string line = s->path() + "\n";
            if (write(fds[1], line.data(), line.size()) < 0)
                _exit(3);
        } catch (...) {
            _exit(2);
        }
        for (;;)
            pause(); // until killed
    }
    close(fds[1]);
    std::string path;
    char c;
    while (read(fds[0], &c, 1) == 1 && c != '\n')
        path.push_back(c);
    close(fds[0]);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return path;
}

static void adopt_after_kill(const std::string &root)
{
    std::string dir = killed_keeper(root);
    CHECK(!dir.empty() && exists(dir));
    auto entries = spillpp::scan(root);
    CHECK(entries.size() == 1 && entries[0].state == SPILL_RESUMABLE && entries[0].tag == "cxx-job");
    auto st = spillpp::reap(root);
    CHECK(st.resumable == 1 && st.reaped == 0 && exists(dir));
    try {
        spillpp::adopt(root, "another-job");
        CHECK(!"adopted a job nobody ran");
    } catch (const spillpp::error &e) {
        CHECK(e.code() == SPILL_ENOTFOUND);
    }
    {
        spillpp::handle s = spillpp::adopt(root, "cxx-job");
        CHECK(s.path() == dir && s.size() == 5);
        std::vector<spillpp::addr> want;
        for (int n = 1; n <= 5; n++) {
            want.push_back(addr(static_cast<std::uint8_t>(n)));
            std::string k = kept_chunk(n);
            CHECK(s.get(addr(static_cast<std::uint8_t>(n))) == std::vector<std::uint8_t>(k.begin(), k.end()));
        }
        CHECK(s.addrs() == want);
    }
    CHECK(!exists(dir));
    dir = killed_keeper(root);
    st = spillpp::reap(root, spillpp::options().reap_resumable(true));
    CHECK(st.reaped == 1 && st.resumable == 0 && !exists(dir));
}

// A chunk file's name in a spill directory: its address in lowercase hex.
static std::string hex(const spillpp::addr &a)
{
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (std::uint8_t b : a) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

static std::string read_file(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A killed keeper's orphan whose chunk `bad` was zero-filled since, at the same length (what a
// power loss can leave); the orphan's directory.
static std::string orphan_with_zeroed(const std::string &root, int bad, std::string *bad_file)
{
    std::string dir = killed_keeper(root);
    *bad_file = dir + "/" + hex(addr(static_cast<std::uint8_t>(bad)));
    CHECK(read_file(*bad_file) == kept_chunk(bad));
    std::ofstream(*bad_file, std::ios::binary | std::ios::trunc) << std::string(kept_chunk(bad).size(), '\0');
    CHECK(read_file(*bad_file) == std::string(kept_chunk(bad).size(), '\0'));
    return dir;
}

// Every file under dir, by its path relative to dir, with its bytes.
static std::map<std::string, std::string> snapshot(const std::string &dir)
{
    std::map<std::string, std::string> out;
    for (const auto &e : std::filesystem::recursive_directory_iterator(dir))
        if (!e.is_directory())
            out[std::filesystem::relative(e.path(), dir).string()] = read_file(e.path().string());
    return out;
}

// The keeper's chunks are what their addresses say: addr(n)'s bytes are kept_chunk(n).
static bool is_kept_chunk(const std::uint8_t *a, const void *data, std::size_t len)
{
    std::string k = kept_chunk(a[0]);
    return addr(a[0]) == *reinterpret_cast<const spillpp::addr *>(a) && len == k.size() &&
           std::memcmp(data, k.data(), len) == 0;
}

static void verify_rejects(const std::string &base)
{
    std::string bad_file, dir = orphan_with_zeroed(base + "/verify", 3, &bad_file);
    std::vector<spillpp::addr> seen;
    {
        spillpp::handle s = spillpp::adopt(base + "/verify", "cxx-job", spillpp::options().verify(
            [&](const std::uint8_t *a, const void *data, std::size_t len) {
                seen.push_back(*reinterpret_cast<const spillpp::addr *>(a));
                return is_kept_chunk(a, data, len);
            }));
        CHECK(seen.size() == 5); // each chunk, in order
        for (int n = 1; n <= 5 && seen.size() == 5; n++)
            CHECK(seen[n - 1] == addr(static_cast<std::uint8_t>(n)));
        CHECK(s.path() == dir && s.size() == 4);
        std::vector<spillpp::addr> want;
        for (int n : {1, 2, 4, 5}) {
            want.push_back(addr(static_cast<std::uint8_t>(n)));
            std::string k = kept_chunk(n);
            CHECK(s.get(addr(static_cast<std::uint8_t>(n))) == std::vector<std::uint8_t>(k.begin(), k.end()));
        }
        CHECK(s.addrs() == want);
        try {
            s.get(addr(3));
            CHECK(!"the rejected chunk was adopted");
        } catch (const spillpp::error &e) {
            CHECK(e.code() == SPILL_ENOTFOUND);
        }
        CHECK(!exists(bad_file)); // removed
    }
    CHECK(!exists(dir));
    // without verify, as 0.2: every journaled chunk of its length, the zero-filled one too
    dir = orphan_with_zeroed(base + "/noverify", 3, &bad_file);
    spillpp::handle s = spillpp::adopt(base + "/noverify", "cxx-job");
    CHECK(s.size() == 5 && s.get(addr(3)) == std::vector<std::uint8_t>(kept_chunk(3).size(), 0));
}

struct broken {
    int chunk;
};

static void verify_throws(const std::string &base)
{
    std::string root = base + "/verify-throws", bad_file, dir = orphan_with_zeroed(root, 3, &bad_file);
    auto before = snapshot(dir);
    CHECK(before.size() > 5); // the chunks, the lock and the owner's files
    int calls = 0;
    try {
        // the first chunk accepted, the second throws: nothing may have changed all the same
        spillpp::adopt(root, "cxx-job", spillpp::options().verify(
            [&](const std::uint8_t *a, const void *data, std::size_t len) {
                calls++;
                if (a[0] == 2)
                    throw broken{2};
                return is_kept_chunk(a, data, len);
            }));
        CHECK(!"adopt returned instead of rethrowing verify's exception");
    } catch (const broken &b) {
        CHECK(b.chunk == 2);
    } catch (const spillpp::error &e) {
        std::fprintf(stderr, "verify_throws: spillpp::error %d instead: %s\n", e.code(), e.what());
        CHECK(!"verify's own exception rethrown");
    }
    CHECK(calls == 2);
    CHECK(snapshot(dir) == before); // every file of the orphan as it was
    auto entries = spillpp::scan(root);
    CHECK(entries.size() == 1 && entries[0].state == SPILL_RESUMABLE);
    spillpp::handle s = spillpp::adopt(root, "cxx-job");
    CHECK(s.path() == dir && s.size() == 5);
    std::string k = kept_chunk(4);
    CHECK(s.get(addr(4)) == std::vector<std::uint8_t>(k.begin(), k.end()));
}

int main()
{
    char tmpl[] = "/tmp/spill-hpp-XXXXXX";
    if (!mkdtemp(tmpl))
        return 2;
    std::string base = tmpl;
    try {
        round_trip(base + "/rt");
        errors(base);
        reap_and_scan(base + "/reap");
        reservation_and_limit(base + "/reserve");
        adopt_after_kill(base + "/adopt"); // first: they fork, before any background thread
        verify_rejects(base);
        verify_throws(base);
        background_open(base + "/bg");
        background_shared(base + "/bgshared");
        progress_and_cancel(base + "/progress");
    } catch (const spillpp::error &e) {
        std::fprintf(stderr, "unexpected spillpp::error %d: %s\n", e.code(), e.what());
        failures++;
    }
    std::string rm = "rm -rf '" + base + "'";
    if (std::system(rm.c_str()) != 0)
        failures++;
    std::printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
