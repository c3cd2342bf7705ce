# fnwm_musl_executable(NAME SOURCES...): NAME linked as a static PIE
# against musl (Debian's musl-dev) with the project's compiler, flags and
# warnings. CMake knows one C library per project, so this is a custom
# command: the compiler is told musl's headers and start files instead of
# glibc's. It sets FNWM_MUSL_FOUND when musl-dev is installed.
set(FNWM_MUSL_TRIPLE "")
if(CMAKE_LIBRARY_ARCHITECTURE MATCHES "^(.*)-linux-gnu")
    set(FNWM_MUSL_TRIPLE "${CMAKE_MATCH_1}-linux-musl")
endif()
set(FNWM_MUSL_LIB /usr/lib/${FNWM_MUSL_TRIPLE})
set(FNWM_MUSL_INCLUDE /usr/include/${FNWM_MUSL_TRIPLE})
set(FNWM_MUSL_FOUND OFF)
if(FNWM_MUSL_TRIPLE AND CMAKE_C_COMPILER_ID STREQUAL "GNU" AND
   EXISTS ${FNWM_MUSL_LIB}/rcrt1.o AND EXISTS ${FNWM_MUSL_LIB}/libc.a AND
   EXISTS ${FNWM_MUSL_INCLUDE}/stdio.h)
    set(FNWM_MUSL_FOUND ON)
endif()

function(fnwm_musl_executable name)
    foreach(f crtbeginS.o crtendS.o include)
        execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=${f}
            OUTPUT_VARIABLE path OUTPUT_STRIP_TRAILING_WHITESPACE)
        string(REPLACE "." "_" var ${f})
        set(gcc_${var} ${path})
    endforeach()
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-libgcc-file-name
        OUTPUT_VARIABLE gcc_libgcc OUTPUT_STRIP_TRAILING_WHITESPACE)
    # musl ships no kernel headers: the system's linux/ and asm/, and
    # nothing else of glibc's include directory.
    set(kh ${CMAKE_CURRENT_BINARY_DIR}/musl-kernel-headers)
    file(MAKE_DIRECTORY ${kh})
    file(CREATE_LINK /usr/include/linux ${kh}/linux SYMBOLIC)
    file(CREATE_LINK /usr/include/asm-generic ${kh}/asm-generic SYMBOLIC)
    file(CREATE_LINK /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/asm
        ${kh}/asm SYMBOLIC)

    string(TOUPPER "${CMAKE_BUILD_TYPE}" bt)
    separate_arguments(cflags UNIX_COMMAND
        "${CMAKE_C_FLAGS} ${CMAKE_C_FLAGS_${bt}}")
    get_directory_property(opts COMPILE_OPTIONS)
    get_directory_property(defs COMPILE_DEFINITIONS)
    list(TRANSFORM defs PREPEND -D)
    set(srcs "")
    foreach(s ${ARGN})
        list(APPEND srcs ${CMAKE_CURRENT_SOURCE_DIR}/${s})
    endforeach()
    file(GLOB common_srcs ${PROJECT_SOURCE_DIR}/common/*.c)
    file(GLOB headers ${PROJECT_SOURCE_DIR}/common/*.h
        ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
    set(out ${CMAKE_CURRENT_BINARY_DIR}/${name})
    add_custom_command(OUTPUT ${out}
        COMMAND ${CMAKE_C_COMPILER} -std=gnu11 ${cflags} ${opts} ${defs}
            -nostdinc -isystem ${FNWM_MUSL_INCLUDE} -isystem ${gcc_include}
            -idirafter ${kh} -I${PROJECT_SOURCE_DIR}/common
            -I${CMAKE_CURRENT_SOURCE_DIR}
            -fPIE -static-pie -nostdlib -nostartfiles
            ${FNWM_MUSL_LIB}/rcrt1.o ${FNWM_MUSL_LIB}/crti.o ${gcc_crtbeginS_o}
            ${srcs} ${common_srcs}
            -L${FNWM_MUSL_LIB} -lc ${gcc_libgcc}
            ${gcc_crtendS_o} ${FNWM_MUSL_LIB}/crtn.o
            -o ${out}
        DEPENDS ${srcs} ${common_srcs} ${headers}
        COMMENT "Linking ${name} against musl (static PIE)"
        VERBATIM)
    add_custom_target(${name} ALL DEPENDS ${out})
endfunction()
