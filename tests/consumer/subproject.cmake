# subproject.cmake (cmake -P): spill as a subproject of tests/consumer, through add_subdirectory
# and through FetchContent, with CUnit unfindable (pkg-config sees only APR, the system include
# directories are ignored by find_path). Each must configure, build only the library, run, and
# install nothing of spill's unless SPILL_INSTALL=ON.
# In: SPILL_SOURCE_DIR WORK_DIR C_COMPILER GENERATOR PKG_CONFIG
cmake_minimum_required(VERSION 3.16)

function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${o}\n${e}")
  endif()
  message(STATUS "${what}: ok")
  set(out "${o}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/pc)
# pkg-config: APR alone (its .pc copied into a directory of its own)
step("pkg-config --variable=pcfiledir apr-1" ${PKG_CONFIG} --variable=pcfiledir apr-1)
string(STRIP "${out}" apr_pc_dir)
file(COPY ${apr_pc_dir}/apr-1.pc DESTINATION ${WORK_DIR}/pc)
set(ENV{PKG_CONFIG_LIBDIR} ${WORK_DIR}/pc)
set(ENV{PKG_CONFIG_PATH} "")
set(ignore "/usr/include;/usr/local/include;/opt/homebrew/include")

foreach(mode subdir fetch)
  set(b ${WORK_DIR}/${mode})
  step("configure the consumer (${mode})" ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}
       -B ${b} -G ${GENERATOR} -DCMAKE_C_COMPILER=${C_COMPILER}
       -DSPILL_CONSUMER_MODE=${mode} -DSPILL_SOURCE_DIR=${SPILL_SOURCE_DIR}
       "-DCMAKE_IGNORE_PATH=${ignore}")
  # nothing about CUnit was looked up (find_path, pkg-config and find_package all cache)
  file(STRINGS ${b}/CMakeCache.txt cunit REGEX "CUNIT|cunit")
  if(cunit)
    message(FATAL_ERROR "${mode}: spill looked for CUnit as a subproject:\n${cunit}")
  endif()
  file(STRINGS ${b}/CMakeCache.txt shared REGEX "^BUILD_SHARED_LIBS:")
  if(shared)
    message(FATAL_ERROR "${mode}: spill put BUILD_SHARED_LIBS in its parent's cache")
  endif()
  step("build the consumer (${mode})" ${CMAKE_COMMAND} --build ${b})
  file(GLOB_RECURSE extra ${b}/spill_tests* ${b}/spill_bench* ${b}/spill_example* ${b}/*/spill
       ${b}/*/spill.1)
  if(extra)
    message(FATAL_ERROR "${mode}: a subproject built more than the library: ${extra}")
  endif()
  file(GLOB_RECURSE exe ${b}/consumer ${b}/consumer.exe)
  step("run the consumer (${mode})" ${exe} ${WORK_DIR}/root-${mode})
  if(NOT out MATCHES "consumer ok")
    message(FATAL_ERROR "the ${mode} consumer printed: ${out}")
  endif()
  # no install rules of spill's: installing the consumer's tree installs nothing
  step("install (${mode})" ${CMAKE_COMMAND} --install ${b} --prefix ${WORK_DIR}/prefix-${mode})
  file(GLOB_RECURSE installed ${WORK_DIR}/prefix-${mode}/*)
  if(installed)
    message(FATAL_ERROR "${mode}: a subproject installed files: ${installed}")
  endif()
endforeach()

# SPILL_INSTALL=ON asks for spill's install rules, the library's and its package's only
set(b ${WORK_DIR}/subdir)
step("reconfigure with SPILL_INSTALL=ON" ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR} -B ${b}
     -DSPILL_INSTALL=ON)
step("install with SPILL_INSTALL=ON" ${CMAKE_COMMAND} --install ${b} --prefix ${WORK_DIR}/prefix-on)
file(GLOB_RECURSE config ${WORK_DIR}/prefix-on/*/spillConfig.cmake)
if(NOT EXISTS ${WORK_DIR}/prefix-on/include/spill.h OR NOT config)
  message(FATAL_ERROR "SPILL_INSTALL=ON installed no spill.h or no spillConfig.cmake")
endif()
if(EXISTS ${WORK_DIR}/prefix-on/bin/spill)
  message(FATAL_ERROR "SPILL_INSTALL=ON installed the program, which a subproject does not build")
endif()
