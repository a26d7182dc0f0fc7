/* test_win32_owner.c: rules 7 and 11 on Windows, through security descriptors: our own
 * directories are ours, a root of ours that others may write to is tightened, and another
 * user's root or spill directory is left alone. What Wine cannot show skips with the reason. */
#include <stdio.h>
#include <string.h>

#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <aclapi.h>

#include "testutil.h"

static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = apr_palloc(tu_pool, (apr_size_t)n * sizeof *w);
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

static PSID well_known(WELL_KNOWN_SID_TYPE t)
{
    DWORD n = SECURITY_MAX_SID_SIZE;
    PSID sid = apr_palloc(tu_pool, n);
    return CreateWellKnownSid(t, NULL, sid, &n) ? sid : NULL;
}

/* 1 if path's DACL has an allow ACE for sid granting any right to write or create. */
static int grants_write(const char *path, PSID sid)
{
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    DWORD i;
    int found = 0;
    if (GetNamedSecurityInfoW(wide(path), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL,
                              &dacl, NULL, &sd) != ERROR_SUCCESS)
        return -1;
    for (i = 0; dacl && i < dacl->AceCount; i++) {
        ACCESS_ALLOWED_ACE *a;
        if (GetAce(dacl, i, (void **)&a) && a->Header.AceType == ACCESS_ALLOWED_ACE_TYPE &&
            !(a->Header.AceFlags & INHERIT_ONLY_ACE) && EqualSid((PSID)&a->SidStart, sid) &&
            (a->Mask & (FILE_ADD_FILE | FILE_ADD_SUBDIRECTORY | GENERIC_ALL | GENERIC_WRITE)))
            found = 1;
    }
    LocalFree(sd);
    return found;
}

/* Adds an allow ACE for Everyone with full access to path's DACL. */
static int grant_everyone(const char *path)
{
    EXPLICIT_ACCESSW ea;
    PACL old = NULL, acl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    DWORD e = GetNamedSecurityInfoW(wide(path), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL,
                                    NULL, &old, NULL, &sd);
    if (e != ERROR_SUCCESS)
        return 0;
    memset(&ea, 0, sizeof ea);
    ea.grfAccessPermissions = FILE_ALL_ACCESS;
    ea.grfAccessMode = GRANT_ACCESS;
    ea.grfInheritance = SUB_CONTAINERS_AND_OBJECTS_INHERIT;
    ea.Trustee.TrusteeForm = TRUSTEE_IS_SID;
    ea.Trustee.TrusteeType = TRUSTEE_IS_WELL_KNOWN_GROUP;
    ea.Trustee.ptstrName = (LPWSTR)well_known(WinWorldSid);
    e = SetEntriesInAclW(1, &ea, old, &acl);
    if (e == ERROR_SUCCESS)
        e = SetNamedSecurityInfoW(wide(path), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL,
                                  NULL, acl, NULL);
    LocalFree(acl);
    LocalFree(sd);
    return e == ERROR_SUCCESS;
}

/* Makes sid the owner of path (SeRestorePrivilege lets an administrator name any owner).
 * Returns 1 only if reading the owner back shows it. */
static int set_owner(const char *path, PSID sid)
{
    HANDLE tok;
    TOKEN_PRIVILEGES tp;
    PSID now = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    int ok;
    if (OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES, &tok)) {
        tp.PrivilegeCount = 1;
        tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
        if (LookupPrivilegeValueW(NULL, L"SeRestorePrivilege", &tp.Privileges[0].Luid))
            AdjustTokenPrivileges(tok, FALSE, &tp, 0, NULL, NULL);
        CloseHandle(tok);
    }
    if (SetNamedSecurityInfoW(wide(path), SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, sid, NULL,
                              NULL, NULL) != ERROR_SUCCESS)
        return 0;
    if (GetNamedSecurityInfoW(wide(path), SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, &now, NULL,
                              NULL, NULL, &sd) != ERROR_SUCCESS)
        return 0;
    ok = now && EqualSid(now, sid);
    LocalFree(sd);
    return ok;
}

typedef struct counts {
    int live, orphan, unsafe;
} counts;

static int tally(void *ctx, const spill_entry *e)
{
    counts *c = ctx;
    c->live += e->state == SPILL_LIVE;
    c->orphan += e->state == SPILL_ORPHAN;
    c->unsafe += e->state == SPILL_UNSAFE;
    return 0;
}

/* Rule 7's owner check must know our own: a live spill is live, an orphan of ours is reaped,
 * and neither is called another user's. */
static void test_own_directories_are_ours(void)
{
    const char *root = tu_fresh_dir("owner");
    const char *orphan = tu_make_spill_dir(root, 1000000000ULL, 1, 2, tu_record(1));
    spill_reap_stats st;
    spill_t *s;
    counts c;
    spill_opts o;
    spill_opts_init(&o);
    o.reap_on_open = 0;
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    memset(&c, 0, sizeof c);
    CU_ASSERT(spill_scan(root, NULL, tally, &c) == SPILL_OK);
    CU_ASSERT(c.live == 1 && c.orphan == 1 && c.unsafe == 0);
    st = tu_reap(root, 30);
    CU_ASSERT(st.reaped == 1 && st.unsafe == 0 && st.live == 1);
    CU_ASSERT(!tu_exists(orphan));
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

static char logged[512];
static void keep_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)level;
    if (strstr(msg, "tightened"))
        snprintf(logged, sizeof logged, "%s", msg);
}

/* Rule 11: a root of ours whose DACL lets Everyone write (as directories under C:\ProgramData
 * inherit for Users) is tightened to an ACL for its owner alone, and logged. */
static void test_loose_root_tightened(void)
{
    const char *root = tu_fresh_dir("looseroot");
    PSID everyone = well_known(WinWorldSid);
    spill_opts o;
    spill_t *s;
    if (!grant_everyone(root) || grants_write(root, everyone) != 1)
        TU_SKIP("cannot give Everyone write access here (Wine keeps no such ACL)");
    spill_opts_init(&o);
    o.log = keep_log;
    logged[0] = '\0';
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    CU_ASSERT(grants_write(root, everyone) == 0);
    CU_ASSERT(strstr(logged, root) != NULL);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* Rules 7 and 11: a spill directory owned by another user is unsafe and left; a root owned by
 * another user is refused. */
static void test_other_users_left_alone(void)
{
    const char *root = tu_fresh_dir("otherowner"), *theirs = tu_fresh_dir("otherroot");
    const char *dir = tu_make_spill_dir(root, 1000000000ULL, 2, 2, tu_record(2));
    PSID other = well_known(WinLocalServiceSid);
    spill_reap_stats st;
    spill_t *s = NULL;
    if (!other || !set_owner(dir, other) || !set_owner(theirs, other))
        TU_SKIP("cannot make another user the owner here (needs SeRestorePrivilege; Wine "
                "keeps no owner)");
    st = tu_reap(root, 0);
    CU_ASSERT(st.unsafe == 1 && st.reaped == 0);
    CU_ASSERT(tu_exists(tu_join(dir, ".lock")));
    CU_ASSERT(spill_open(theirs, NULL, &s) == SPILL_EUNSAFE);
    CU_ASSERT(spill_reap(theirs, NULL, NULL) == SPILL_EUNSAFE);
}

static CU_TestInfo tests[] = {
    {"rule 7: our own directories are ours", test_own_directories_are_ours},
    {"rule 11: a root others may write to is tightened", test_loose_root_tightened},
    {"rules 7 and 11: another user's root and spills are left", test_other_users_left_alone},
    CU_TEST_INFO_NULL,
};

test_suite suite_win32owner = {"win32owner", tests};
