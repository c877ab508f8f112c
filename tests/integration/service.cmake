# SPDX-License-Identifier: MIT
# tests/integration/service.cmake -- running on the internet and as a service: response rate
# limiting, the privilege drop, systemd.
gk_integration_test(integration_rrl test_rrl.py 120)
gk_integration_test(integration_privs test_privs.py 120 $<TARGET_FILE:gkctl>)
# exit 77, shown as skipped: not root (privs); systemd-analyze cannot load the default
# dependencies, or no mount namespace (systemd); a missing tool fails naming its package
set_tests_properties(integration_privs PROPERTIES SKIP_RETURN_CODE 77)
# systemd: the units pass systemd-analyze verify; sd_notify messages in order
gk_integration_test(integration_systemd_verify test_systemd.py 120 $<TARGET_FILE:gk-sync>
	${CMAKE_BINARY_DIR} verify)
gk_integration_test(integration_systemd_notify test_systemd.py 120 $<TARGET_FILE:gk-sync> notify)
gk_integration_test(integration_systemd_journal test_systemd.py 120 $<TARGET_FILE:gk-sync> journal)
set_tests_properties(integration_systemd_verify integration_systemd_notify integration_systemd_journal
	PROPERTIES SKIP_RETURN_CODE 77)
# PROXY v2 from load balancers (UDP and TCP): allowed, refused, malformed
gk_integration_test(integration_proxy test_proxy.py 120)
# DNS over TLS: answers as UDP/TCP (ssl, kdig +tls), TLS 1.2/1.3, resumption, handshake
# deadline, pipelining, certificate reload on SIGHUP
gk_integration_test(integration_dot test_dot.py 180)
