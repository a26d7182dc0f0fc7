# CMake toolchain file for the Windows leg: cross-compile for x86_64 Windows with Debian's MinGW-w64,
# find APR/CUnit only in the prefix built by ci/windows-deps.sh, and run test binaries under Wine.
#
#   ci/windows-deps.sh                       # builds build-win/deps/prefix (cached)
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=ci/mingw-toolchain.cmake \
#         -DSPILL_WIN_DEPS=$PWD/build-win/deps/prefix
#   ctest --test-dir build-win               # runs each test through ${SPILL_WIN_DEPS}/bin/wine-run
#   build-win/deps/prefix/bin/wine-run --kill   # stop the Wine prefix's wineserver afterwards
#
# The prefix (SPILL_WIN_DEPS):
#   include/apr-1/apr*.h  lib/libapr-1.a    APR 1.7.2, static only: consumers must define APR_DECLARE_STATIC
#   include/CUnit/*.h     lib/libcunit.a    CUnit 2.1-3 (Framework + Basic interface)
#   lib/pkgconfig/apr-1.pc, cunit.pc         bin/wine-run (emulator wrapper, sets WINEPREFIX etc.)
# Link libraries, in this order: cunit apr-1 ws2_32 mswsock rpcrt4
#   (kernel32, advapi32, shell32, user32 and msvcrt come with gcc's default libraries).
#   e.g. find_path(APR_INCLUDE_DIR apr.h PATH_SUFFIXES apr-1); find_library(APR_LIBRARY apr-1)
#        target_compile_definitions(t PRIVATE APR_DECLARE_STATIC)
#        target_link_libraries(t PRIVATE ${CUNIT_LIBRARY} ${APR_LIBRARY} ws2_32 mswsock rpcrt4)
# apr.h defines _WIN32_WINNT=0x0600 unless already defined: define _WIN32_WINNT=0x0A00 first for Win10 APIs.

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(_spill_triple x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_spill_triple}-gcc)
set(CMAKE_CXX_COMPILER ${_spill_triple}-g++)
set(CMAKE_RC_COMPILER ${_spill_triple}-windres)

# The deps prefix: -DSPILL_WIN_DEPS=..., else $SPILL_WIN_DEPS, else <repo>/build-win/deps/prefix.
if(NOT SPILL_WIN_DEPS)
  if(DEFINED ENV{SPILL_WIN_DEPS})
    set(SPILL_WIN_DEPS "$ENV{SPILL_WIN_DEPS}")
  else()
    set(SPILL_WIN_DEPS "${CMAKE_CURRENT_LIST_DIR}/../build-win/deps/prefix")
  endif()
endif()
get_filename_component(SPILL_WIN_DEPS "${SPILL_WIN_DEPS}" ABSOLUTE)
set(SPILL_WIN_DEPS "${SPILL_WIN_DEPS}" CACHE PATH "Prefix with the Windows builds of APR and CUnit" FORCE)
# try_compile() projects re-read this file: hand them the same prefix.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SPILL_WIN_DEPS)

# Libraries, headers and packages come from the deps prefix (then MinGW's own sysroot), never from
# the Linux host; programs (tools that run during the build) come from the host.
set(CMAKE_FIND_ROOT_PATH "${SPILL_WIN_DEPS}" /usr/${_spill_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config, if the project uses it, sees only the deps prefix's .pc files.
set(ENV{PKG_CONFIG_LIBDIR} "${SPILL_WIN_DEPS}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Test binaries (add_test, try_run, custom commands naming an executable target) run through Wine.
# The wrapper written by ci/windows-deps.sh sets WINEPREFIX (inside the deps cache),
# WINEDEBUG=-all and WINEDLLOVERRIDES, then execs /usr/lib/wine/wine64 (Debian 12, package wine64).
if(EXISTS "${SPILL_WIN_DEPS}/bin/wine-run")
  set(CMAKE_CROSSCOMPILING_EMULATOR "${SPILL_WIN_DEPS}/bin/wine-run")
elseif(EXISTS /usr/lib/wine/wine64)
  message(WARNING "${SPILL_WIN_DEPS}/bin/wine-run is missing (run ci/windows-deps.sh): "
                  "using /usr/lib/wine/wine64 with the caller's WINEPREFIX")
  set(CMAKE_CROSSCOMPILING_EMULATOR /usr/lib/wine/wine64)
endif()
