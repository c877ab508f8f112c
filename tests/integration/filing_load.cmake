# SPDX-License-Identifier: MIT
# tests/integration/filing_load.cmake -- the filing check end to end under load: gk-sync
# (keygen, sign, apply) into a private redis-server, three gatekeeperd replicas, dnsperf
# traffic; revocation under load, Redis kill -9 + restart, two replicas on one Redis.
add_test(NAME integration_filing_load
	COMMAND ${GK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_filing_load.py
		$<TARGET_FILE:gatekeeperd> $<TARGET_FILE:gk-sync>
	WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
# under the sanitizers: latency figures logged, not asserted (GK_SANITIZE), and more time
if(GK_SANITIZE)
	set(timeout 900)
else()
	set(timeout 150)
endif()
set_tests_properties(integration_filing_load PROPERTIES LABELS integration TIMEOUT ${timeout}
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;GK_SANITIZE=$<BOOL:${GK_SANITIZE}>")
