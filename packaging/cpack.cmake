# SPDX-License-Identifier: MIT
# Installation layout and the Debian package (cpack -G DEB; see
# packaging/debian/build-deb.sh).
install(FILES ${CMAKE_SOURCE_DIR}/packaging/fnwm.1
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/systemd/fnwm.service
    DESTINATION lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/systemd/fnwm-user.service
    DESTINATION lib/systemd/user RENAME fnwm.service)
install(PROGRAMS ${CMAKE_SOURCE_DIR}/packaging/systemd/fnwm-service-stop
    DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/fnwm)

set(CPACK_PACKAGE_NAME fnwm)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "fnwm maintainers <fnwm@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "worker manager for FuncNodes: WebSocket hub and per-worker supervisors")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# lws loads its libev glue at run time: no library links it, so say so.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libwebsockets-evlib-ev, adduser, python3, python3-venv")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/packaging/debian/postinst;${CMAKE_SOURCE_DIR}/packaging/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
