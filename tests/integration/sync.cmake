# SPDX-License-Identifier: MIT
# tests/integration/sync.cmake -- gk-sync black-box test: its own redis-server on a free
# loopback port, openssl CLI interop, bench/feedgen.py for the larger feeds. GK_TEST_HOOKS
# tells it whether gk-sync has its failure injection (the interrupted apply step needs it).
add_test(NAME integration_sync
	COMMAND ${GK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_sync.py $<TARGET_FILE:gk-sync>
	WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
# its 60,000-domain feeds take several times longer under the sanitizers
if(GK_SANITIZE)
	set(timeout 1200)
else()
	set(timeout 300)
endif()
set_tests_properties(integration_sync PROPERTIES LABELS integration TIMEOUT ${timeout}
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;GK_TEST_HOOKS=$<BOOL:${GK_TEST_HOOKS}>"
	SKIP_RETURN_CODE 77) # a step this build cannot run (no failure injection): shown as skipped
# what gk-sync and gkctl say: sign's output, an applied delta re-applied, missing options
gk_integration_test(integration_cli test_cli.py 120 $<TARGET_FILE:gk-sync>
	$<TARGET_FILE:gkctl>)
