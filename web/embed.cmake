# SPDX-License-Identifier: MIT
#
# Builds the dashboard page into a C source file at build time:
#   cmake -DWEB_DIR=<web/> -DOUT=<file.c> -P embed.cmake
# index.html names the other files on lines of their own,
#   /*@include style.css@*/   or   //@include app.js@
# and each such line is replaced by that file's text, so the page is one
# document: one request, one access check, nothing fetched from elsewhere.
# The result is written as a byte array (web_page, web_page_len).

if(NOT WEB_DIR OR NOT OUT)
    message(FATAL_ERROR "usage: cmake -DWEB_DIR=dir -DOUT=file.c -P embed.cmake")
endif()

file(READ "${WEB_DIR}/index.html" page)
string(REGEX MATCHALL "(/\\*|//)@include [^@]+@(\\*/)?" marks "${page}")
foreach(mark IN LISTS marks)
    string(REGEX REPLACE "^(/\\*|//)@include ([^@]+)@.*$" "\\2" name "${mark}")
    if(NOT EXISTS "${WEB_DIR}/${name}")
        message(FATAL_ERROR "index.html includes ${name}, which is missing")
    endif()
    file(READ "${WEB_DIR}/${name}" text)
    # Inside <script> or <style> this would end the element early.
    string(TOLOWER "${text}" lower)
    string(FIND "${lower}" "</script" at1)
    string(FIND "${lower}" "</style" at2)
    if(NOT at1 EQUAL -1 OR NOT at2 EQUAL -1)
        message(FATAL_ERROR "${name} contains </script or </style")
    endif()
    string(REPLACE "${mark}" "${text}" page "${page}")
endforeach()

get_filename_component(out_dir "${OUT}" DIRECTORY)
set(tmp "${out_dir}/web-page.html")
file(WRITE "${tmp}" "${page}")
file(SIZE "${tmp}" size)
if(size GREATER 153600)
    message(FATAL_ERROR "the dashboard page is ${size} bytes; keep it under 150 KiB")
endif()
file(READ "${tmp}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# Lines of 16 bytes keep the file readable by an editor.
string(REGEX REPLACE "((0x..,){16})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
"/* Generated from web/ by web/embed.cmake; do not edit. */
#include <stddef.h>

const unsigned char web_page[] = {
${bytes}
};
const size_t web_page_len = ${size};
")
# Unchanged output keeps its timestamp: nothing to recompile.
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
