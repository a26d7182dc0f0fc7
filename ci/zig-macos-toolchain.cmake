# ci/zig-macos-toolchain.cmake: cross-compile for macOS with zig cc (the macOS leg,
# ci/test-macos-cross.sh). Nothing built with it can run here.
#   -DCMAKE_TOOLCHAIN_FILE=ci/zig-macos-toolchain.cmake
#   -DSPILL_MACOS_ARCH=x86_64|aarch64   the target (zig's <arch>-macos)
#   -DSPILL_MACOS_DEPS=DIR              APR and CUnit built for it (lib/pkgconfig/*.pc)
#   -DSPILL_ZIG=/path/to/zig            optional; else zig on PATH
set(CMAKE_SYSTEM_NAME Darwin)
# try_compile projects read this file again: pass them our three settings
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SPILL_MACOS_ARCH SPILL_MACOS_DEPS SPILL_ZIG)

if(NOT SPILL_MACOS_ARCH MATCHES "^(x86_64|aarch64)$")
  message(FATAL_ERROR "SPILL_MACOS_ARCH must be x86_64 or aarch64 (got '${SPILL_MACOS_ARCH}')")
endif()
if(NOT IS_DIRECTORY "${SPILL_MACOS_DEPS}/lib/pkgconfig")
  message(FATAL_ERROR "SPILL_MACOS_DEPS (${SPILL_MACOS_DEPS}) has no lib/pkgconfig: see ci/test-macos-cross.sh")
endif()
if(NOT SPILL_ZIG)
  find_program(SPILL_ZIG zig REQUIRED)
endif()
set(CMAKE_SYSTEM_PROCESSOR ${SPILL_MACOS_ARCH})
if(SPILL_MACOS_ARCH STREQUAL "aarch64")
  set(CMAKE_SYSTEM_PROCESSOR arm64) # as CMake on an Apple silicon Mac names it
endif()

# The compilers: zig cc and zig c++ with the target as a fixed argument (a list is allowed here).
set(CMAKE_C_COMPILER "${SPILL_ZIG}" cc -target ${SPILL_MACOS_ARCH}-macos)
set(CMAKE_CXX_COMPILER "${SPILL_ZIG}" c++ -target ${SPILL_MACOS_ARCH}-macos)
# No Xcode here: no SDK to look for, no -arch or -mmacosx-version-min (zig's target says it).
set(CMAKE_OSX_SYSROOT "" CACHE PATH "" FORCE)
set(CMAKE_OSX_ARCHITECTURES "" CACHE STRING "" FORCE)
set(CMAKE_OSX_DEPLOYMENT_TARGET "" CACHE STRING "" FORCE)

# Small scripts in the build tree (rewritten only when they change).
set(_spill_zig_tools "${CMAKE_BINARY_DIR}/zig-macos-tools")
function(_spill_zig_script name text)
  file(CONFIGURE OUTPUT "${_spill_zig_tools}/${name}" CONTENT "#!/bin/sh\n${text}\n" @ONLY)
  file(CHMOD "${_spill_zig_tools}/${name}" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
    GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endfunction()
# CMAKE_AR and CMAKE_RANLIB must each be one program: zig ar (it writes the archive in
# Darwin's format) and zig ranlib.
_spill_zig_script(zig-ar "exec \"${SPILL_ZIG}\" ar \"$@\"")
_spill_zig_script(zig-ranlib "exec \"${SPILL_ZIG}\" ranlib \"$@\"")
set(CMAKE_AR "${_spill_zig_tools}/zig-ar" CACHE FILEPATH "" FORCE)
set(CMAKE_RANLIB "${_spill_zig_tools}/zig-ranlib" CACHE FILEPATH "" FORCE)
# No install_name_tool here (CMake wants one for Darwin; only an install would run it).
_spill_zig_script(no-install-name-tool
  "echo 'install_name_tool: none in the zig cross build; install on a Mac' >&2; exit 1")
set(CMAKE_INSTALL_NAME_TOOL "${_spill_zig_tools}/no-install-name-tool" CACHE FILEPATH "" FORCE)

# A rules override, read after CMake's Darwin and Apple-Clang rules:
# - they probe the compiler's ABI with "-v -Wl,-v", and zig's linker refuses -v (without the
#   probe CMAKE_SIZEOF_VOID_P stays unknown): the plain -v;
# - they give the rpath flag only where the host's sw_vers says macOS 10.5 or later (no
#   sw_vers here): without it a dylib's install name is its build path, not @rpath/.
file(CONFIGURE OUTPUT "${_spill_zig_tools}/rules.cmake" CONTENT "\
set(CMAKE_C_VERBOSE_FLAG -v)
set(CMAKE_CXX_VERBOSE_FLAG -v)
set(CMAKE_SHARED_LIBRARY_RUNTIME_C_FLAG -Wl,-rpath,)
set(CMAKE_SHARED_LIBRARY_RUNTIME_CXX_FLAG -Wl,-rpath,)
")
set(CMAKE_USER_MAKE_RULES_OVERRIDE "${_spill_zig_tools}/rules.cmake")

# APR and CUnit from the deps prefix only: its pkg-config files, never the host's.
set(ENV{PKG_CONFIG_LIBDIR} "${SPILL_MACOS_DEPS}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_FIND_ROOT_PATH "${SPILL_MACOS_DEPS}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
