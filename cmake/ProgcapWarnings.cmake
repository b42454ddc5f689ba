# Warning flags for progcap's own targets (not third-party headers).
add_library(progcap_warnings INTERFACE)
target_compile_options(progcap_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Wunused
  -Woverloaded-virtual -Wimplicit-fallthrough -Wformat=2
  $<$<COMPILE_LANGUAGE:CXX>:-Wold-style-cast>)
if(PROGCAP_WERROR)
  target_compile_options(progcap_warnings INTERFACE -Werror)
endif()

# progcap_add_plugin_test(<plugin> SOURCES <files...> [LINK <targets...>] [POSTGRES])
# A GoogleTest executable for one in-tree plugin: it compiles the plugin's
# sources together with the tests and talks to them through the C ABI with
# the SDK's FakeHost (no core linked), as an out-of-tree plugin would.
# POSTGRES: the tests need the PostgreSQL server of ctest's `postgres` fixture
# (they link tests/support, whose TestDatabase migrates through core's db module).
function(progcap_add_plugin_test plugin)
  cmake_parse_arguments(T "POSTGRES" "" "SOURCES;LINK" ${ARGN})
  string(REPLACE "-" "_" target "${plugin}_test")
  add_executable(${target} ${T_SOURCES})
  target_link_libraries(${target} PRIVATE progcap::sdk_testing GTest::gtest_main progcap_warnings ${T_LINK})
  target_compile_definitions(${target} PRIVATE PROGCAP_PLUGIN_VERSION_STRING="${PROJECT_VERSION}")
  if(T_POSTGRES)
    target_link_libraries(${target} PRIVATE progcap_test_support)
    gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS postgres
      FIXTURES_REQUIRED postgres ENVIRONMENT "PROGCAP_PG_ENV_FILE=${PROGCAP_PG_ENV_FILE}")
  else()
    gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS plugin)
  endif()
endfunction()
