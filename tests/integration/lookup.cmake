# SPDX-License-Identifier: MIT
# tests/integration/lookup.cmake -- gkctl lookup against the running daemon's answers (a private
# redis-server holds the filing status).
add_test(NAME integration_lookup
	COMMAND ${GK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_lookup.py
		$<TARGET_FILE:gatekeeperd> $<TARGET_FILE:gkctl>
	WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(integration_lookup PROPERTIES LABELS integration TIMEOUT 120
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
