# SPDX-License-Identifier: MIT
# tests/integration/discovery.cmake -- discovery end to end: redis-server, gk-sync,
# gatekeeperd and gkctl report, HTML checked in headless Chromium.
add_test(NAME integration_discovery
	COMMAND ${GK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_discovery.py
		$<TARGET_FILE:gatekeeperd> $<TARGET_FILE:gk-sync> $<TARGET_FILE:gkctl>
	WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(integration_discovery PROPERTIES LABELS integration TIMEOUT 240
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")

# Attribution and accuracy (IP filing): the worked example of docs/REPORT.md in every format.
add_test(NAME integration_attribution
	COMMAND ${GK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_attribution.py
		$<TARGET_FILE:gatekeeperd> $<TARGET_FILE:gk-sync> $<TARGET_FILE:gkctl>
	WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(integration_attribution PROPERTIES LABELS integration TIMEOUT 180
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
