// test_hpp.cpp: the C++ wrapper (include/spill.hpp) as a user sees it: round trip, the directory
// gone when the handle is destroyed or closed, errors as spillpp::error with spill_error's fields,
// reap and scan counts. POSIX only (mkdtemp, stat).
#include "spill.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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
