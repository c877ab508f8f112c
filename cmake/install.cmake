# SPDX-License-Identifier: MIT
# cmake/install.cmake -- `cmake --install`: where a Debian system expects each file.
#
# With CMAKE_INSTALL_PREFIX=/usr (as a Debian package builds): the programs in /usr/sbin
# (all three are administrators' tools; their pages are in section 8), the manual pages in
# /usr/share/man, the example configuration in /usr/share/doc/gatekeeper/examples, the Redis
# ACL file in /usr/share/gatekeeper, and the systemd units in the directory systemd's
# pkg-config file names (/lib/systemd/system on Debian 12; under another prefix,
# PREFIX/lib/systemd/system). Nothing is written to /etc: the operator's configuration is
# never overwritten.
include(GNUInstallDirs)
install(TARGETS gatekeeperd gk-sync gkctl RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/gatekeeperd.conf.example
	DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/redis/gatekeeper.acl
	DESTINATION ${CMAKE_INSTALL_DATADIR}/gatekeeper)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md
	DESTINATION ${CMAKE_INSTALL_DOCDIR})
file(GLOB GK_UNITS ${PROJECT_SOURCE_DIR}/systemd/*.service)
if(GK_UNITS)
	if(NOT GK_SYSTEMD_UNITDIR)
		pkg_get_variable(GK_SYSTEMD_SYSTEM_DIR systemd systemdsystemunitdir)
		if(CMAKE_INSTALL_PREFIX STREQUAL "/usr" AND GK_SYSTEMD_SYSTEM_DIR)
			set(GK_SYSTEMD_UNITDIR ${GK_SYSTEMD_SYSTEM_DIR})
		else()
			set(GK_SYSTEMD_UNITDIR lib/systemd/system)
		endif()
	endif()
	install(FILES ${GK_UNITS} DESTINATION ${GK_SYSTEMD_UNITDIR})
endif()
