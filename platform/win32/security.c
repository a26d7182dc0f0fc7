/* security.c (Windows): where the root lives and how safely: rules 7 and 11, the default data
 * directory, and the root's path (absolute or not, the current directory, its parents made). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aclapi.h>
#include <sddl.h>
#include <shlobj.h>

#include "win32.h"

/* ---- Rules 7 and 11 through security descriptors: whose a directory is (its owner SID against
 * this process's user), and whether others may write into the root (its DACL), tightened to an
 * ACL for the owner alone where the root is ours. */

/* The SIDs that count as "this process's user": the token's user, and its default owner (for
 * an elevated administrator, new files are owned by BUILTIN\Administrators instead). */
static union {
    TOKEN_USER t;
    BYTE b[SECURITY_MAX_SID_SIZE + sizeof(TOKEN_USER)];
} me_user;
static union {
    TOKEN_OWNER t;
    BYTE b[SECURITY_MAX_SID_SIZE + sizeof(TOKEN_OWNER)];
} me_owner;
static int me_known;

static void load_me(void)
{
    HANDLE tok;
    DWORD n;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return;
    if (GetTokenInformation(tok, TokenUser, &me_user, sizeof me_user, &n) &&
        GetTokenInformation(tok, TokenOwner, &me_owner, sizeof me_owner, &n))
        me_known = 1;
    CloseHandle(tok);
}

static int is_me(PSID sid)
{
    spill__once(load_me);
    return me_known && (EqualSid(sid, me_user.t.User.Sid) || EqualSid(sid, me_owner.t.Owner));
}

/* SYSTEM and BUILTIN\Administrators: the "root" of rule 11, whose roots are trusted as long as
 * nobody else may write to them. */
static int is_system(PSID sid)
{
    return IsWellKnownSid(sid, WinLocalSystemSid) || IsWellKnownSid(sid, WinBuiltinAdministratorsSid);
}

/* Rights that let someone plant, remove or rename entries, or take the directory over. */
#define WRITE_RIGHTS                                                                       \
    (FILE_ADD_FILE | FILE_ADD_SUBDIRECTORY | FILE_DELETE_CHILD | DELETE | WRITE_DAC |      \
     WRITE_OWNER | GENERIC_WRITE | GENERIC_ALL)

/* 1 if the DACL lets anyone but us and the system write or create in the directory. */
static int others_may_write(PACL dacl)
{
    DWORD i;
    if (!dacl)
        return 1; /* a NULL DACL grants everyone everything */
    for (i = 0; i < dacl->AceCount; i++) {
        ACE_HEADER *h;
        ACCESS_ALLOWED_ACE *a;
        if (!GetAce(dacl, i, (void **)&h) || h->AceType != ACCESS_ALLOWED_ACE_TYPE ||
            (h->AceFlags & INHERIT_ONLY_ACE))
            continue;
        a = (ACCESS_ALLOWED_ACE *)h;
        if ((a->Mask & WRITE_RIGHTS) && !is_me((PSID)&a->SidStart) &&
            !is_system((PSID)&a->SidStart))
            return 1;
    }
    return 0;
}

/* The owner (and the DACL, when dacl is given) of the open h; *sd to LocalFree. ERROR_* on
 * failure; a filesystem without security (FAT) answers with no owner. */
static DWORD query(HANDLE h, PSID *owner, PACL *dacl, PSECURITY_DESCRIPTOR *sd)
{
    SECURITY_INFORMATION what = OWNER_SECURITY_INFORMATION | (dacl ? DACL_SECURITY_INFORMATION : 0);
    *owner = NULL;
    *sd = NULL;
    return GetSecurityInfo(h, SE_FILE_OBJECT, what, owner, NULL, dacl, NULL, sd);
}

int spill__win_owned_by_me(HANDLE h, const char *name, int *own)
{
    PSID owner;
    PSECURITY_DESCRIPTOR sd;
    DWORD e = query(h, &owner, NULL, &sd);
    (void)name;
    if (e == ERROR_NOT_SUPPORTED || e == ERROR_INVALID_FUNCTION || (e == ERROR_SUCCESS && !owner))
        *own = 1; /* no owners on this filesystem */
    else
        *own = e == ERROR_SUCCESS && is_me(owner); /* unreadable: doubt, so not ours */
    if (sd)
        LocalFree(sd);
    return SPILL_OK;
}

/* An ACL for the owner alone, inherited by everything made inside, and no longer inheriting
 * from the parent (whose ACEs were the loose ones). */
static int tighten_dacl(spill__fd root_fd, const char *path)
{
    EXPLICIT_ACCESSW ea;
    PACL acl = NULL;
    HANDLE h;
    DWORD e;
    int rc = spill__win_open(root_fd, "", WRITE_DAC | READ_CONTROL, SPILL__SHARE_ALL, FILE_OPEN,
                             FILE_DIRECTORY_FILE, &h, NULL);
    if (rc != SPILL_OK)
        return rc;
    memset(&ea, 0, sizeof ea);
    ea.grfAccessPermissions = FILE_ALL_ACCESS;
    ea.grfAccessMode = SET_ACCESS;
    ea.grfInheritance = SUB_CONTAINERS_AND_OBJECTS_INHERIT;
    ea.Trustee.TrusteeForm = TRUSTEE_IS_SID;
    ea.Trustee.TrusteeType = TRUSTEE_IS_USER;
    ea.Trustee.ptstrName = (LPWSTR)me_user.t.User.Sid;
    e = SetEntriesInAclW(1, &ea, NULL, &acl);
    if (e == ERROR_SUCCESS)
        e = SetSecurityInfo(h, SE_FILE_OBJECT,
                            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, NULL,
                            NULL, acl, NULL);
    if (acl)
        LocalFree(acl);
    CloseHandle(h);
    if (e != ERROR_SUCCESS)
        return spill__error_set_os(SPILL_EUNSAFE, (int)e, "SetSecurityInfo", path,
                                   "root is writable by others and could not be tightened");
    return SPILL_OK;
}

static int refuse(const char *path, const char *why)
{
    return spill__error_set_os(SPILL_EUNSAFE, 0, "root", path, why);
}

/* Rule 11: a root of ours that others may write to is tightened (or refused if that fails;
 * with tighten 0, a dry run, nothing is changed and *tightened says it would have been);
 * one of the system's is accepted only if nobody else may write to it; another user's is
 * refused. */
int spill__root_check(spill__fd root_fd, const char *path, int tighten, int *tightened)
{
    PSID owner;
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd;
    HANDLE h;
    DWORD e;
    int rc, loose;
    *tightened = 0;
    rc = spill__win_open(root_fd, "", READ_CONTROL, SPILL__SHARE_ALL, FILE_OPEN,
                         FILE_DIRECTORY_FILE, &h, NULL);
    if (rc != SPILL_OK)
        return rc;
    e = query(h, &owner, &dacl, &sd);
    CloseHandle(h);
    if (e == ERROR_NOT_SUPPORTED || e == ERROR_INVALID_FUNCTION || (e == ERROR_SUCCESS && !owner)) {
        if (sd)
            LocalFree(sd);
        return SPILL_OK; /* no security on this filesystem (FAT): nothing to check */
    }
    if (e != ERROR_SUCCESS)
        return spill__error_os("GetSecurityInfo", path, (int)e);
    loose = others_may_write(dacl);
    if (is_me(owner))
        rc = loose && tighten ? tighten_dacl(root_fd, path) : SPILL_OK; /* dry run: would */
    else if (!is_system(owner))
        rc = refuse(path, "owned by another user");
    else
        rc = loose ? refuse(path, "owned by the system and writable by others") : SPILL_OK;
    *tightened = is_me(owner) && loose && rc == SPILL_OK;
    LocalFree(sd);
    return rc;
}

/* ---- The root's path and the default data directory. */

/* C:\ or C:/, \\server\share, \\?\ (and \dir, rooted on the current drive) are absolute. */
int spill__path_is_absolute(const char *path)
{
    if (path[0] == '\\' || path[0] == '/')
        return 1;
    return ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) &&
           path[1] == ':' && (path[2] == '\\' || path[2] == '/');
}

int spill__getcwd(char *buf, size_t size)
{
    DWORD n = GetCurrentDirectoryW(0, NULL), got;
    wchar_t *w = n ? malloc(n * sizeof *w) : NULL;
    int ok;
    if (!w || (got = GetCurrentDirectoryW(n, w)) == 0 || got >= n) {
        DWORD e = w ? GetLastError() : ERROR_NOT_ENOUGH_MEMORY;
        free(w);
        return spill__error_os("GetCurrentDirectoryW", "", (int)(e ? e : ERROR_BUFFER_OVERFLOW));
    }
    ok = spill__win_utf8(w, -1, buf, size);
    free(w);
    if (!ok)
        return spill__error_set_os(SPILL_ERANGE, 0, "GetCurrentDirectoryW", "", "path too long");
    return SPILL_OK;
}

/* Where the components that may be created start: past C:\, \\server\share\ or \\?\ forms. */
static wchar_t *first_component(wchar_t *w)
{
    int skip = 0;
    if (wcsncmp(w, L"\\\\?\\UNC\\", 8) == 0) {
        w += 8;
        skip = 2;
    } else if (wcsncmp(w, L"\\\\?\\", 4) == 0) {
        w += 4;
    } else if (w[0] == L'\\' && w[1] == L'\\') {
        w += 2;
        skip = 2;
    }
    for (; skip > 0 && *w; skip--) /* server and share */
        while (*w && *w++ != L'\\')
            ;
    if (w[0] && w[1] == L':')
        w += 2;
    while (*w == L'\\')
        w++;
    return w;
}

/* mkdir -p; what it creates inherits its parent's ACL (POSIX modes have no meaning here). */
int spill__mkdir_parents(const char *path)
{
    wchar_t *w, *p;
    int rc = spill__win_wide(path, 1, &w);
    if (rc != SPILL_OK)
        return rc;
    for (p = first_component(w);; p++) {
        wchar_t c = *p;
        if (c != L'\\' && c != L'\0')
            continue;
        *p = L'\0';
        /* an existing component may also answer "access denied" (a protected parent) */
        if (!CreateDirectoryW(w, NULL)) {
            DWORD e = GetLastError();
            if (e != ERROR_ALREADY_EXISTS && GetFileAttributesW(w) == INVALID_FILE_ATTRIBUTES) {
                rc = spill__error_os("CreateDirectoryW", path, (int)e);
                break;
            }
        }
        *p = c;
        if (c == L'\0')
            break;
    }
    free(w);
    return rc;
}

int spill__data_dir(const char *app, char *buf, size_t size)
{
    /* FOLDERID_LocalAppData, spelled out so that no GUID library is needed */
    static const GUID local_app_data = {0xf1b32785, 0x6fba, 0x4fcf,
                                        {0x9d, 0x55, 0x7b, 0x8e, 0x7f, 0x15, 0x70, 0x91}};
    wchar_t *w = NULL;
    char dir[4096];
    HRESULT hr = SHGetKnownFolderPath(&local_app_data, 0, NULL, &w);
    int ok = SUCCEEDED(hr) && spill__win_utf8(w, -1, dir, sizeof dir), n;
    CoTaskMemFree(w);
    if (!ok)
        return spill__error_set_os(SPILL_ENOTFOUND, (int)hr, "SHGetKnownFolderPath",
                                   "LocalAppData", "no Local AppData folder");
    n = snprintf(buf, size, "%s\\%s", dir, app);
    if (n < 0 || (size_t)n >= size)
        return spill__error_set_os(SPILL_ERANGE, 0, "spill_default_root", "", "path too long");
    return SPILL_OK;
}
