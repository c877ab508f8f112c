# SPDX-License-Identifier: MIT
# tests/integration/discovery.cmake -- discovery end to end: redis-server, gk-sync,
# gatekeeperd and gkctl report, HTML checked in headless Chromium.
find_program(GK_REDIS_SERVER redis-server PATHS /usr/bin NO_DEFAULT_PATH)
if(GK_REDIS_SERVER)
	add_test(NAME integration_discovery
		COMMAND ${GK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_discovery.py
			$<TARGET_FILE:gatekeeperd> $<TARGET_FILE:gk-sync> $<TARGET_FILE:gkctl>
		WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
	set_tests_properties(integration_discovery PROPERTIES LABELS integration TIMEOUT 240
		ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
else()
	message(STATUS "redis-server not found: integration_discovery not registered")
endif()
