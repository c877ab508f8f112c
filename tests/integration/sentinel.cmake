# SPDX-License-Identifier: MIT
# tests/integration/sentinel.cmake -- Redis Sentinel failover under query load: a primary, a
# replica and three redis-sentinel processes on free loopback ports; gk-sync, gkctl and two
# gatekeeperds follow the promoted replica. Always registered: a missing redis-sentinel fails
# the test naming the Debian package.
gk_integration_test(integration_sentinel test_sentinel.py 240
	$<TARGET_FILE:gk-sync> $<TARGET_FILE:gkctl>)
