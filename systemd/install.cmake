# Installs the systemd units, the sysusers.d and tmpfiles.d snippets and
# the configuration file.  Runs at install time (install(CODE) in the
# top-level CMakeLists.txt), so that the paths written into the units
# follow the prefix given to `cmake --install --prefix`, not only the one
# given when configuring.
#
# Expects RFTD_SOURCE_DIR, the GNUInstallDirs relative directories
# (RFTD_SBINDIR, RFTD_BINDIR, RFTD_SYSCONFDIR) and the destinations
# (RFTD_UNITDIR, RFTD_SYSUSERSDIR, RFTD_TMPFILESDIR: relative to the
# prefix, or absolute).

# A directory's absolute path under the current prefix, by the rules of
# GNUInstallDirs: etc/ of the prefix /usr is /etc, of /opt/X is /etc/opt/X
# (`kind` is sysconf for it, other for the rest).
function(rftd_full_dir out dir kind)
	if(IS_ABSOLUTE "${dir}")
		set(${out} "${dir}" PARENT_SCOPE)
	elseif(kind STREQUAL "sysconf" AND dir STREQUAL "etc" AND
	       CMAKE_INSTALL_PREFIX MATCHES "^/(usr/?)?$")
		set(${out} "/etc" PARENT_SCOPE)
	elseif(kind STREQUAL "sysconf" AND dir STREQUAL "etc" AND
	       CMAKE_INSTALL_PREFIX MATCHES "^/opt/([^/]+)/?$")
		set(${out} "/etc/opt/${CMAKE_MATCH_1}" PARENT_SCOPE)
	else()
		string(REGEX REPLACE "/$" "" prefix "${CMAKE_INSTALL_PREFIX}")
		set(${out} "${prefix}/${dir}" PARENT_SCOPE)
	endif()
endfunction()

# Writes `template` to `dest_dir`/`name` the way install(FILES) would
# (under $DESTDIR, listed in the manifest), with @VARIABLES@ replaced
# when `how` is @ONLY, or as it is when `how` is COPYONLY.
function(rftd_install_configured template dest_dir name how)
	set(dest "$ENV{DESTDIR}${dest_dir}/${name}")
	message(STATUS "Installing: ${dest}")
	configure_file("${template}" "${dest}" ${how}
		FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
	set(CMAKE_INSTALL_MANIFEST_FILES ${CMAKE_INSTALL_MANIFEST_FILES}
		"${dest_dir}/${name}" PARENT_SCOPE)
endfunction()

rftd_full_dir(CMAKE_INSTALL_FULL_SBINDIR "${RFTD_SBINDIR}" other)
rftd_full_dir(CMAKE_INSTALL_FULL_BINDIR "${RFTD_BINDIR}" other)
rftd_full_dir(CMAKE_INSTALL_FULL_SYSCONFDIR "${RFTD_SYSCONFDIR}" sysconf)
rftd_full_dir(unitdir "${RFTD_UNITDIR}" other)
rftd_full_dir(sysusersdir "${RFTD_SYSUSERSDIR}" other)
rftd_full_dir(tmpfilesdir "${RFTD_TMPFILESDIR}" other)

rftd_install_configured("${RFTD_SOURCE_DIR}/systemd/rftd.service.in"
	"${unitdir}" rftd.service @ONLY)
rftd_install_configured("${RFTD_SOURCE_DIR}/systemd/rftd.socket"
	"${unitdir}" rftd.socket COPYONLY)
rftd_install_configured("${RFTD_SOURCE_DIR}/systemd/rftd.sysusers"
	"${sysusersdir}" rftd.conf COPYONLY)
rftd_install_configured("${RFTD_SOURCE_DIR}/systemd/rftd.tmpfiles.in"
	"${tmpfilesdir}" rftd.conf @ONLY)

# The configuration: the example, unless one is there already (a
# reinstall must not undo an administrator's changes).
set(conf "$ENV{DESTDIR}${CMAKE_INSTALL_FULL_SYSCONFDIR}/rftd/rftd.conf")
if(EXISTS "${conf}")
	message(STATUS "Keeping: ${conf}")
else()
	rftd_install_configured("${RFTD_SOURCE_DIR}/examples/rftd.conf"
		"${CMAKE_INSTALL_FULL_SYSCONFDIR}/rftd" rftd.conf COPYONLY)
endif()
