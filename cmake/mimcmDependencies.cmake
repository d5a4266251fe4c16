# Finds mimcm's dependencies. Shared by the build tree and by the installed package config, so both
# resolve RapidJSON, libcurl and PC/SC the same way. Each mimcm_find_<dependency>(<found_var>)
# sets <found_var> to TRUE or FALSE and, when FALSE, MIMCM_WHY_NOT to what is missing; nothing
# here stops the configure step, so find_package(mimcm QUIET) can report instead.
# MIMCM_FIND_QUIET (QUIET or empty) is passed on to the look-ups.
include_guard(GLOBAL)

# The oldest libcurl supported (RHEL 9). Newer options are guarded in transport/curl.hpp.
set(MIMCM_MIN_CURL_VERSION 7.76)

# Imported targets are local to the directory that made them, but the ones mimcm links to must be
# seen wherever mimcm::mimcm is used (a project adding mimcm as a subdirectory, a package config
# found in a subdirectory). Makes global the given targets that the caller has just created.
function(mimcm_make_global)
    foreach(t IN LISTS ARGN)
        if(TARGET ${t})
            get_target_property(aliased ${t} ALIASED_TARGET)
            if(aliased)
                set(t ${aliased})
            endif()
            get_target_property(imported ${t} IMPORTED)
            get_target_property(global ${t} IMPORTED_GLOBAL)
            if(imported AND NOT global)
                set_property(TARGET ${t} PROPERTY IMPORTED_GLOBAL TRUE)
            endif()
        endif()
    endforeach()
endfunction()

# RapidJSON ships several shapes of CMake config (Debian: only RAPIDJSON_INCLUDE_DIRS; vcpkg:
# RapidJSON::RapidJSON; Conan: rapidjson). Normalise them to one target, mimcm_rapidjson.
function(mimcm_find_rapidjson found_var)
    set(${found_var} TRUE PARENT_SCOPE)
    if(TARGET mimcm_rapidjson)
        return()
    endif()
    set(new "")
    foreach(t RapidJSON::RapidJSON rapidjson)
        if(NOT TARGET ${t})
            list(APPEND new ${t})
        endif()
    endforeach()
    find_package(RapidJSON QUIET CONFIG)
    mimcm_make_global(${new})
    if(TARGET RapidJSON::RapidJSON)
        set(link RapidJSON::RapidJSON)
    elseif(TARGET rapidjson)
        set(link rapidjson)
    else()
        find_path(MIMCM_RAPIDJSON_INCLUDE_DIR rapidjson/document.h
                  HINTS ${RAPIDJSON_INCLUDE_DIRS} ${RapidJSON_INCLUDE_DIRS})
        if(NOT MIMCM_RAPIDJSON_INCLUDE_DIR)
            set(${found_var} FALSE PARENT_SCOPE)
            set(MIMCM_WHY_NOT "RapidJSON was not found (Debian: rapidjson-dev)" PARENT_SCOPE)
            return()
        endif()
    endif()
    add_library(mimcm_rapidjson INTERFACE IMPORTED GLOBAL)
    if(link)
        set_property(TARGET mimcm_rapidjson PROPERTY INTERFACE_LINK_LIBRARIES ${link})
    else()
        set_property(TARGET mimcm_rapidjson PROPERTY
                     INTERFACE_INCLUDE_DIRECTORIES "${MIMCM_RAPIDJSON_INCLUDE_DIR}")
    endif()
endfunction()

# libcurl, at least MIMCM_MIN_CURL_VERSION: CURL::libcurl.
function(mimcm_find_curl found_var)
    set(new "")
    if(NOT TARGET CURL::libcurl)
        set(new CURL::libcurl)
    endif()
    find_package(CURL ${MIMCM_MIN_CURL_VERSION} ${MIMCM_FIND_QUIET})
    mimcm_make_global(${new})
    if(CURL_FOUND AND TARGET CURL::libcurl)
        set(${found_var} TRUE PARENT_SCOPE)
        return()
    endif()
    set(${found_var} FALSE PARENT_SCOPE)
    if(CURL_VERSION_STRING AND CURL_VERSION_STRING VERSION_LESS MIMCM_MIN_CURL_VERSION)
        set(why "libcurl ${CURL_VERSION_STRING} is too old: mimcm needs libcurl "
                "${MIMCM_MIN_CURL_VERSION} or newer")
    elseif(CURL_CONSIDERED_VERSIONS)
        set(why "no suitable libcurl: found ${CURL_CONSIDERED_VERSIONS}, mimcm needs "
                "${MIMCM_MIN_CURL_VERSION} or newer")
    else()
        set(why "libcurl ${MIMCM_MIN_CURL_VERSION} or newer was not found "
                "(Debian: libcurl4-openssl-dev)")
    endif()
    string(CONCAT why ${why})
    set(MIMCM_WHY_NOT "${why}" PARENT_SCOPE)
endfunction()

# PC/SC: WinSCard on Windows, PCSC.framework on macOS, pcsc-lite elsewhere: mimcm_pcsc.
function(mimcm_find_pcsc found_var)
    set(${found_var} TRUE PARENT_SCOPE)
    if(TARGET mimcm_pcsc)
        return()
    endif()
    if(WIN32)
        set(link winscard)
    elseif(APPLE)
        set(link "-framework PCSC")
    else()
        # A package manager's config (Conan's CMakeDeps) first, then pkg-config.
        set(new "")
        if(NOT TARGET pcsc-lite::pcsc-lite)
            set(new pcsc-lite::pcsc-lite)
        endif()
        find_package(pcsc-lite QUIET CONFIG)
        mimcm_make_global(${new})
        if(TARGET pcsc-lite::pcsc-lite)
            set(link pcsc-lite::pcsc-lite)
        else()
            find_package(PkgConfig QUIET)
            if(PKG_CONFIG_FOUND)
                pkg_check_modules(MIMCM_PCSCLITE ${MIMCM_FIND_QUIET} IMPORTED_TARGET GLOBAL
                                  libpcsclite)
            endif()
            if(NOT TARGET PkgConfig::MIMCM_PCSCLITE)
                set(${found_var} FALSE PARENT_SCOPE)
                if(PKG_CONFIG_FOUND)
                    set(MIMCM_WHY_NOT
                        "PC/SC was not found: pkg-config knows no libpcsclite (Debian: libpcsclite-dev)"
                        PARENT_SCOPE)
                else()
                    set(MIMCM_WHY_NOT "PC/SC is looked up with pkg-config, which was not found"
                        PARENT_SCOPE)
                endif()
                return()
            endif()
            set(link PkgConfig::MIMCM_PCSCLITE)
        endif()
    endif()
    add_library(mimcm_pcsc INTERFACE IMPORTED GLOBAL)
    set_property(TARGET mimcm_pcsc PROPERTY INTERFACE_LINK_LIBRARIES "${link}")
endfunction()

# Build tree (add_subdirectory, FetchContent, mimcm's own targets): links what the options ask
# for, and stops with the reason when it is missing. The links are build-interface only: the
# installed package config finds the dependencies again on the user's machine.
function(mimcm_link_dependencies target)
    mimcm_find_rapidjson(found)
    if(NOT found)
        message(FATAL_ERROR "mimcm: ${MIMCM_WHY_NOT}")
    endif()
    target_link_libraries(${target} INTERFACE $<BUILD_INTERFACE:mimcm_rapidjson>)
    if(MIMCM_WITH_CURL)
        mimcm_find_curl(found)
        if(NOT found)
            message(FATAL_ERROR "mimcm: ${MIMCM_WHY_NOT}; or configure with -DMIMCM_WITH_CURL=OFF "
                                "to leave the libcurl transport out")
        endif()
        target_link_libraries(${target} INTERFACE $<BUILD_INTERFACE:CURL::libcurl>)
    else()
        target_compile_definitions(${target} INTERFACE MIMCM_NO_CURL)
    endif()
    if(MIMCM_WITH_PCSC)
        mimcm_find_pcsc(found)
        if(NOT found)
            message(FATAL_ERROR "mimcm: ${MIMCM_WHY_NOT}; or configure with -DMIMCM_WITH_PCSC=OFF "
                                "to leave the PC/SC card layer out")
        endif()
        target_link_libraries(${target} INTERFACE $<BUILD_INTERFACE:mimcm_pcsc>)
    else()
        target_compile_definitions(${target} INTERFACE MIMCM_NO_PCSC)
    endif()
endfunction()
