# SPDX-License-Identifier: MIT
# tests/integration/policy.cmake -- fleet policy: gkctl pushes to a private redis-server, two
# gatekeeperd instances follow (latency, rollback, rejections, status, lookup, dnsperf).
add_test(NAME integration_fleet_policy
	COMMAND ${GK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_fleet_policy.py
		$<TARGET_FILE:gatekeeperd> $<TARGET_FILE:gkctl> $<TARGET_FILE:gk-sync>
	WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(integration_fleet_policy PROPERTIES LABELS integration TIMEOUT 180
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
# The fleet policy across restarts: the last verified version kept on disk, versions bounded,
# gkctl status for instances that do not follow the fleet.
add_test(NAME integration_policy_restart
	COMMAND ${GK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_policy_restart.py
		$<TARGET_FILE:gatekeeperd> $<TARGET_FILE:gkctl> $<TARGET_FILE:gk-sync>
	WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(integration_policy_restart PROPERTIES LABELS integration TIMEOUT 120
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
