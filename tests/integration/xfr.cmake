# SPDX-License-Identifier: MIT
# tests/integration/xfr.cmake -- zone transfers from NSD 4.6 and Knot 3.2 on loopback
# (test_xfr.py): the transfer client through xfr_fetch.
add_executable(xfr_fetch xfr_fetch.c)
target_link_libraries(xfr_fetch PRIVATE gk gk_xfr_internal)
add_test(NAME integration_xfr
	COMMAND ${GK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_xfr.py $<TARGET_FILE:xfr_fetch>
	WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(integration_xfr PROPERTIES LABELS integration TIMEOUT 180
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
# gatekeeperd as a secondary of Knot and NSD: NOTIFY, IXFR, expiry, persistence, restart
gk_integration_test(integration_secondary test_secondary.py 300)
# catalog zones at run time: Knot generates the catalog, members added, removed, persisted
gk_integration_test(integration_catalog test_catalog.py 300)
# catalog members forwarded to a pool (a template with forward:): NSD the backend, Knot the
# catalog's primary; moved between groups, removed, restarted
gk_integration_test(integration_catalog_forward test_catalog_forward.py 300
	$<TARGET_FILE:gk-sync>)
set_tests_properties(integration_catalog_forward PROPERTIES
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;GK_NSD=${GK_NSD}")
