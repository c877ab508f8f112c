# SPDX-License-Identifier: MIT
# tests/integration/rrl.cmake -- response rate limiting: rate, slip, other sources, exempt.
gk_integration_test(integration_rrl test_rrl.py 120)
