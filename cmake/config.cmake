# SPDX-License-Identifier: GPL-3.0-only
# What config.h turns on for MASQUE_CONFIG_DEFINES (a profile, single switches, or both), as the
# compiler sees it: MASQUE_HAS_<SWITCH> is ON or OFF for each switch of config.h. Asking the
# preprocessor keeps CMake's view identical to the library's, whatever mix of profile and
# switches is given.
include(CheckCSourceCompiles)
string(MD5 _masque_config_hash "${MASQUE_CONFIG_DEFINES}")
set(_masque_saved_definitions "${CMAKE_REQUIRED_DEFINITIONS}")
set(_masque_saved_includes "${CMAKE_REQUIRED_INCLUDES}")
set(_masque_saved_quiet "${CMAKE_REQUIRED_QUIET}")
set(CMAKE_REQUIRED_DEFINITIONS "")
foreach(_masque_define IN LISTS MASQUE_CONFIG_DEFINES)
  list(APPEND CMAKE_REQUIRED_DEFINITIONS "-D${_masque_define}")
endforeach()
set(CMAKE_REQUIRED_INCLUDES "${CMAKE_CURRENT_SOURCE_DIR}/include")
set(CMAKE_REQUIRED_QUIET ON)
foreach(_masque_switch SESSION PROXY ARG_CHECKS HTTP POLICY DRAFT04 IPV6 ERROR_TEXT
                       AUTO_COMPRESS)
  # The result is cached under a name that includes the definitions, so that a new
  # MASQUE_CONFIG_DEFINES is asked again.
  set(_masque_var "MASQUE_CFG_${_masque_switch}_${_masque_config_hash}")
  check_c_source_compiles("#include \"masque/config.h\"
#if !MASQUE_ENABLE_${_masque_switch}
#error off
#endif
int main(void) { return 0; }" ${_masque_var})
  if(${_masque_var})
    set(MASQUE_HAS_${_masque_switch} ON)
  else()
    set(MASQUE_HAS_${_masque_switch} OFF)
  endif()
endforeach()
set(CMAKE_REQUIRED_DEFINITIONS "${_masque_saved_definitions}")
set(CMAKE_REQUIRED_INCLUDES "${_masque_saved_includes}")
set(CMAKE_REQUIRED_QUIET "${_masque_saved_quiet}")
# The adapter, the bindings and the programs run both roles and speak HTTP: the full core.
if(MASQUE_HAS_SESSION AND MASQUE_HAS_PROXY AND MASQUE_HAS_HTTP)
  set(MASQUE_HAS_HOST_PARTS ON)
else()
  set(MASQUE_HAS_HOST_PARTS OFF)
endif()
