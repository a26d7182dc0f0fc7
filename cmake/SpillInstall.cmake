# SpillInstall.cmake: `cmake --install` puts spill.h, the library, the `spill` program, a CMake
# package (find_package(spill CONFIG), target spill::spill) and spill.pc under the prefix.
include(CMakePackageConfigHelpers)

set(SPILL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/spill)

# spill links the interface target spill_apr PRIVATE; a static spill carries that link to its
# consumers, so spill_apr is exported beside it (as spill::apr) and spillConfig.cmake finds APR
# again the way this build found it.
set_target_properties(spill_apr PROPERTIES EXPORT_NAME apr)
set(targets spill spill_apr)
if(TARGET spill_static)
  list(APPEND targets spill_static)
endif()
install(TARGETS ${targets} EXPORT spillTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/spill.h ${PROJECT_SOURCE_DIR}/include/spill.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT spillTargets NAMESPACE spill:: DESTINATION ${SPILL_CMAKE_DIR})

if(TARGET spill_cli)
  install(TARGETS spill_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  if(BUILD_SHARED_LIBS AND NOT WIN32)
    # the installed program finds the installed library beside it, wherever the prefix is
    file(RELATIVE_PATH rel "/p/${CMAKE_INSTALL_BINDIR}" "/p/${CMAKE_INSTALL_LIBDIR}")
    if(APPLE)
      set_target_properties(spill_cli PROPERTIES INSTALL_RPATH "@loader_path/${rel}")
    else()
      set_target_properties(spill_cli PROPERTIES INSTALL_RPATH "$ORIGIN/${rel}")
    endif()
  endif()
endif()

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/spillConfig.cmake.in
  ${PROJECT_BINARY_DIR}/spillConfig.cmake
  INSTALL_DESTINATION ${SPILL_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/spillConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)  # 0.2 keeps 0.1 programs working, source and binary
install(FILES ${PROJECT_BINARY_DIR}/spillConfig.cmake ${PROJECT_BINARY_DIR}/spillConfigVersion.cmake
  DESTINATION ${SPILL_CMAKE_DIR})

# spill.pc finds its prefix from its own place (${pcfiledir}), so an install under any
# --prefix works without reconfiguring.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(SPILL_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH rel "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  string(REGEX REPLACE "/$" "" rel "${rel}")
  set(SPILL_PC_PREFIX "\${pcfiledir}/${rel}")
endif()
if(BUILD_SHARED_LIBS)
  set(SPILL_PC_CFLAGS "")
else()
  set(SPILL_PC_CFLAGS " -DSPILL_STATIC")
endif()
# Libs.private: what linking a static libspill needs, APR's libraries spelled out as this build
# found them. Not `Requires.private: apr-1`: pkg-config adds such a package's Cflags to every
# `--cflags spill`, and APR's (-D_GNU_SOURCE -DLINUX -I...) have no place in a client's compile:
# spill.h includes nothing of APR.
if(SPILL_APR_FOUND_BY STREQUAL "pkg-config")
  set(apr_libs ${APR_STATIC_LDFLAGS})  # `pkg-config --static --libs apr-1`, as a list
elseif(SPILL_APR_FOUND_BY STREQUAL "search")
  get_filename_component(apr_dir "${APR_LIBRARY}" DIRECTORY)
  set(apr_libs "-L${apr_dir}" -lapr-1)
else() # vcpkg: its CMake package knows APR's dependencies; here only the library itself
  set(apr_libs -lapr-1)
endif()
# the compiler's own directories need no -L (pkg-config leaves them out of its output as well)
foreach(dir ${CMAKE_C_IMPLICIT_LINK_DIRECTORIES})
  list(REMOVE_ITEM apr_libs "-L${dir}")
endforeach()
if(NOT WIN32)
  list(APPEND apr_libs ${CMAKE_THREAD_LIBS_INIT})
endif()
list(REMOVE_DUPLICATES apr_libs)
string(REPLACE ";" " " SPILL_PC_LIBS_PRIVATE "${apr_libs}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/spill.pc.in ${PROJECT_BINARY_DIR}/spill.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/spill.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
