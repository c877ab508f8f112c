# SPDX-License-Identifier: MIT
# tests/integration/frontend.cmake -- front-end mode: forwarded zones relayed to NSD and to
# small Python backends (slow, wrong ID, garbage, truncating), the decision before the
# backend, the packet cache and a revocation on a cached name, failover and recovery.
gk_integration_test(integration_frontend test_frontend.py 180 $<TARGET_FILE:gk-sync>
	$<TARGET_FILE:gkctl>)
set_tests_properties(integration_frontend PROPERTIES
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;GK_NSD=${GK_NSD}")
# failover under a dnsperf burst: two NSD backends, one SIGKILLed (no query lost or SERVFAIL)
gk_integration_test(integration_frontend_failover test_frontend_failover.py 180
	$<TARGET_FILE:gk-sync>)
set_tests_properties(integration_frontend_failover PROPERTIES
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;GK_NSD=${GK_NSD}")
# the same with the front end's loop coalescing wake-ups (udp_linger_us: 100)
gk_integration_test(integration_frontend_failover_linger test_frontend_failover.py 180
	$<TARGET_FILE:gk-sync>)
set_tests_properties(integration_frontend_failover_linger PROPERTIES
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;GK_NSD=${GK_NSD};FO_LINGER=100")
# zones forwarded from a zone list file (NAME forward=POOL) to NSD: the decision first
gk_integration_test(integration_frontend_list test_frontend_list.py 120 $<TARGET_FILE:gk-sync>)
set_tests_properties(integration_frontend_list PROPERTIES
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;GK_NSD=${GK_NSD}")
