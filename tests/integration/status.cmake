# SPDX-License-Identifier: MIT
# tests/integration/status.cmake -- the filing-status replica against a private redis-server.
gk_integration_test(integration_status test_status.py 180)
# Redis frozen with SIGSTOP: stale but enforcing, and the max_age_ms hard bound
gk_integration_test(integration_status_stale test_status.py 120 stale)
# Redis replaced by an older store: diverged, then resynchronised with gk-sync
gk_integration_test(integration_status_diverged test_status.py 120 diverged
	$<TARGET_FILE:gkctl> $<TARGET_FILE:gk-sync>)
