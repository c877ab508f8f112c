# SPDX-License-Identifier: MIT
# tests/integration/tls.cmake -- the secure Redis topology (docs/TRUST.md): replication from the
# primary over TLS with certificates made by the openssl command, gatekeeperd reading the
# replica over a unix socket. Exit 77 (SKIP) only when redis-server has no TLS.
gk_integration_test(integration_tls_replication test_tls_replication.py 120
	$<TARGET_FILE:gk-sync>)
set_tests_properties(integration_tls_replication PROPERTIES SKIP_RETURN_CODE 77)
