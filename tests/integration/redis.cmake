# SPDX-License-Identifier: MIT
# tests/integration/redis.cmake -- Redis ACLs: gatekeeperd, gk-sync and gkctl each with its own
# user from redis/gatekeeper.acl (default user off); writes outside a user's rules fail.
add_test(NAME integration_redis_acl
	COMMAND ${GK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_redis_acl.py
		$<TARGET_FILE:gatekeeperd> $<TARGET_FILE:gkctl> $<TARGET_FILE:gk-sync>
	WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(integration_redis_acl PROPERTIES LABELS integration TIMEOUT 120
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
