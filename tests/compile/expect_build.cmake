# Builds one target of the build tree and checks how that goes (cmake -P, run by ctest):
#   -DBUILD_DIR=<tree> -DTARGET=<target> -DEXPECT=success   the target must build
#   -DBUILD_DIR=<tree> -DTARGET=<target> -DEXPECT=<pattern> it must fail, and one line of the
#     compiler's output must match <pattern>, where "~" stands for any text on that line (so an
#     error for another reason, such as a typo, does not pass).
foreach(var BUILD_DIR TARGET EXPECT)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "expect_build.cmake needs -D${var}=...")
    endif()
endforeach()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}"
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(EXPECT STREQUAL "success")
    if(NOT result EQUAL 0)
        message(FATAL_ERROR "${TARGET} must compile, but:\n${output}")
    endif()
    message(STATUS "${TARGET} compiles")
    return()
endif()
if(result EQUAL 0)
    message(FATAL_ERROR "${TARGET} compiled, but it must not")
endif()
string(REPLACE "~" "[^\n]*" pattern "${EXPECT}")
if(NOT output MATCHES "${pattern}")
    message(FATAL_ERROR
        "${TARGET} failed, but not with a message matching '${EXPECT}':\n${output}")
endif()
message(STATUS "${TARGET} is rejected: ${CMAKE_MATCH_0}")
