# SPDX-License-Identifier: MIT
# tests/integration/status.cmake -- the filing-status replica against a private redis-server.
find_program(GK_REDIS_SERVER redis-server PATHS /usr/bin NO_DEFAULT_PATH)
if(GK_REDIS_SERVER)
	gk_integration_test(integration_status test_status.py 180)
else()
	message(STATUS "redis-server not found: integration_status not registered")
endif()
