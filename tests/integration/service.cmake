# SPDX-License-Identifier: MIT
# tests/integration/service.cmake -- running on the internet and as a service: response rate
# limiting, the privilege drop.
gk_integration_test(integration_rrl test_rrl.py 120)
gk_integration_test(integration_privs test_privs.py 120)
