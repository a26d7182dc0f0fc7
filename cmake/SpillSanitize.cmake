# SpillSanitize.cmake: SPILL_SANITIZE builds everything in this tree (the library objects, the
# test binary, the tools) under sanitizers, for CI: "address,undefined" or "thread" (also
# "address" or "undefined" alone). Include it before any target is defined.
set(SPILL_SANITIZE "" CACHE STRING
  "Sanitizers: address,undefined or thread (empty: none; for tests and CI, never for release)")
set_property(CACHE SPILL_SANITIZE PROPERTY STRINGS "" "address,undefined" "thread")

if(SPILL_SANITIZE)
  string(REPLACE "," ";" spill_sans "${SPILL_SANITIZE}")
  foreach(s IN LISTS spill_sans)
    if(NOT s MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "SPILL_SANITIZE: unknown sanitizer '${s}' (address, undefined, thread)")
    endif()
  endforeach()
  if("thread" IN_LIST spill_sans AND "address" IN_LIST spill_sans)
    message(FATAL_ERROR "SPILL_SANITIZE: thread and address cannot be combined")
  endif()
  if(MSVC)
    if(NOT SPILL_SANITIZE STREQUAL "address")
      message(FATAL_ERROR "SPILL_SANITIZE: MSVC offers only 'address'")
    endif()
    add_compile_options(/fsanitize=address)
  elseif(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    # frame pointers: whole stacks in reports, cheaply
    add_compile_options(-fsanitize=${SPILL_SANITIZE} -fno-omit-frame-pointer)
    if("undefined" IN_LIST spill_sans)
      # UBSan only prints and goes on by default: make every report fail the test
      add_compile_options(-fno-sanitize-recover=undefined)
    endif()
    add_link_options(-fsanitize=${SPILL_SANITIZE})
  else()
    message(FATAL_ERROR "SPILL_SANITIZE needs GCC, Clang or MSVC")
  endif()
  message(STATUS "spill sanitizers: ${SPILL_SANITIZE}")
endif()
