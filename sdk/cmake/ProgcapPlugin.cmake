# progcap_add_plugin(<name>
#     SOURCES <files...>
#     MANIFEST <plugin.json>          # configured: @PROGCAP_PLUGIN_NAME@, @PROGCAP_PLUGIN_VERSION@, @PROGCAP_ABI@
#     [VERSION <x.y.z>]               # default: PROJECT_VERSION
#     [LINK <targets...>]             # private dependencies of the plugin
#     [OUTPUT_DIR <dir>]              # default: PROGCAP_PLUGIN_OUTPUT_DIR or the current binary dir
#     [NO_INSTALL])
#
# Builds libprogcap-<name>.so (a MODULE library) with hidden visibility,
# -Wl,-z,defs (no undefined symbols: plugins never link against the host)
# and an $ORIGIN rpath, and writes the manifest next to it as
# libprogcap-<name>.json. <name> is "<kind>-<what>", e.g. "sink-ndjson".
# Creates the target progcap_plugin_<name with - replaced by _>.
include_guard(GLOBAL)
include(GNUInstallDirs)

function(progcap_add_plugin name)
  cmake_parse_arguments(P "NO_INSTALL" "MANIFEST;VERSION;OUTPUT_DIR" "SOURCES;LINK" ${ARGN})
  if(NOT name MATCHES "^(source|sink|transform|bundle)-[a-z0-9]+(-[a-z0-9]+)*$")
    message(FATAL_ERROR "progcap_add_plugin: '${name}' must look like <source|sink|transform|bundle>-<name>")
  endif()
  if(NOT P_SOURCES)
    message(FATAL_ERROR "progcap_add_plugin(${name}): SOURCES is required")
  endif()
  if(NOT P_MANIFEST)
    message(FATAL_ERROR "progcap_add_plugin(${name}): MANIFEST is required")
  endif()
  if(NOT P_VERSION)
    set(P_VERSION ${PROJECT_VERSION})
  endif()
  if(NOT P_OUTPUT_DIR)
    if(PROGCAP_PLUGIN_OUTPUT_DIR)
      set(P_OUTPUT_DIR ${PROGCAP_PLUGIN_OUTPUT_DIR})
    else()
      set(P_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR})
    endif()
  endif()
  string(REPLACE "-" "_" target "progcap_plugin_${name}")

  add_library(${target} MODULE ${P_SOURCES})
  if(TARGET progcap::sdk)
    target_link_libraries(${target} PRIVATE progcap::sdk)
  else()
    message(FATAL_ERROR "progcap_add_plugin: progcap::sdk not found (find_package(progcap-sdk) first)")
  endif()
  if(P_LINK)
    target_link_libraries(${target} PRIVATE ${P_LINK})
  endif()
  if(TARGET progcap_warnings)
    target_link_libraries(${target} PRIVATE progcap_warnings)
  endif()
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME "progcap-${name}"
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIR}
    INSTALL_RPATH "$ORIGIN"
    PROGCAP_PLUGIN_NAME ${name})
  # Export exactly the two entry symbols; everything else (including
  # libstdc++ template instances and STB_GNU_UNIQUE objects) stays local.
  set(_vscript ${CMAKE_CURRENT_BINARY_DIR}/${target}.exports.map)
  file(WRITE ${_vscript} "{\n  global:\n    progcap_plugin_abi_version;\n    progcap_plugin_entry;\n  local:\n    *;\n};\n")
  target_link_options(${target} PRIVATE -Wl,-z,defs -Wl,--version-script=${_vscript})
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${_vscript})
  target_compile_definitions(${target} PRIVATE PROGCAP_PLUGIN_VERSION_STRING="${P_VERSION}")

  set(PROGCAP_PLUGIN_NAME ${name})
  set(PROGCAP_PLUGIN_VERSION ${P_VERSION})
  set(PROGCAP_ABI "${PROGCAP_ABI_MAJOR}.${PROGCAP_ABI_MINOR}")
  configure_file(${P_MANIFEST} ${P_OUTPUT_DIR}/libprogcap-${name}.json @ONLY)

  if(NOT P_NO_INSTALL)
    if(NOT DEFINED PROGCAP_INSTALL_PLUGINDIR)
      set(PROGCAP_INSTALL_PLUGINDIR ${CMAKE_INSTALL_LIBDIR}/progcap/plugins)
    endif()
    install(TARGETS ${target} LIBRARY DESTINATION ${PROGCAP_INSTALL_PLUGINDIR} COMPONENT plugins)
    install(FILES ${P_OUTPUT_DIR}/libprogcap-${name}.json DESTINATION ${PROGCAP_INSTALL_PLUGINDIR} COMPONENT plugins)
  endif()
  set(PROGCAP_LAST_PLUGIN_TARGET ${target} PARENT_SCOPE)
endfunction()
