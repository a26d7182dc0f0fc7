# run.cmake (cmake -P): installs spill's build tree into a fresh prefix, then builds and runs two
# outside consumers against it: a CMake project (find_package(spill CONFIG), spill::spill) and a
# plain compile with `pkg-config --cflags --libs spill`.
# In: BUILD_DIR SOURCE_DIR WORK_DIR C_COMPILER C_COMPILER_ID PKG_CONFIG GENERATOR CONFIG SHARED
cmake_minimum_required(VERSION 3.16)

# Runs a command; stops the test with its output if it fails. Leaves its stdout in `out`.
function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${o}\n${e}")
  endif()
  message(STATUS "${what}: ok")
  set(out "${o}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(config_args)
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()

step("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} ${config_args})
foreach(f include/spill.h bin/spill${CMAKE_EXECUTABLE_SUFFIX})
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "the install has no ${f}")
  endif()
endforeach()
file(GLOB_RECURSE config_file ${prefix}/*/spillConfig.cmake)
file(GLOB_RECURSE version_file ${prefix}/*/spillConfigVersion.cmake)
file(GLOB_RECURSE pc_file ${prefix}/*/spill.pc)
if(NOT config_file OR NOT version_file OR NOT pc_file)
  message(FATAL_ERROR "the install lacks spillConfig.cmake, its version file or spill.pc")
endif()
step("installed spill --version" ${prefix}/bin/spill --version)
if(NOT out MATCHES "^spill [0-9]+\\.[0-9]+\\.[0-9]+")
  message(FATAL_ERROR "installed spill --version printed: ${out}")
endif()

# 1. CMake: find_package(spill CONFIG) from the prefix alone
set(cm ${WORK_DIR}/cmake)
step("configure the CMake consumer" ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${cm} -G ${GENERATOR}
     -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_BUILD_TYPE=Release)
step("build the CMake consumer" ${CMAKE_COMMAND} --build ${cm} ${config_args})
file(GLOB_RECURSE exe ${cm}/consumer${CMAKE_EXECUTABLE_SUFFIX})
step("run the CMake consumer" ${exe} ${WORK_DIR}/root-cmake)
if(NOT out MATCHES "consumer ok")
  message(FATAL_ERROR "the CMake consumer printed: ${out}")
endif()

# 2. pkg-config: a plain compiler line, as a Makefile or another build system would write it
if(NOT PKG_CONFIG OR C_COMPILER_ID STREQUAL "MSVC")
  message(STATUS "pkg-config consumer: skipped (no pkg-config, or MSVC)")
  return()
endif()
get_filename_component(pc_dir ${pc_file} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
set(pc_args --cflags --libs)
if(NOT SHARED)
  list(APPEND pc_args --static) # a static libspill.a needs APR's libraries on the line too
endif()
step("pkg-config ${pc_args} spill" ${PKG_CONFIG} ${pc_args} spill)
string(STRIP "${out}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
if(SHARED AND NOT APPLE)
  step("pkg-config --variable=libdir spill" ${PKG_CONFIG} --variable=libdir spill)
  string(STRIP "${out}" libdir)
  list(APPEND flags "-Wl,-rpath,${libdir}")
endif()
step("compile the pkg-config consumer"
     ${C_COMPILER} ${SOURCE_DIR}/main.c -o ${WORK_DIR}/consumer-pc ${flags})
step("run the pkg-config consumer" ${WORK_DIR}/consumer-pc ${WORK_DIR}/root-pc)
if(NOT out MATCHES "consumer ok")
  message(FATAL_ERROR "the pkg-config consumer printed: ${out}")
endif()
