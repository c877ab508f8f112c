# SPDX-License-Identifier: MIT
# tests/integration/ipfeed.cmake -- the IP filing feed applied by gk-sync apply-ip to a private
# redis-server: snapshot, delta, serial and signature rules, rejections leaving Redis as it was,
# lint's nesting warning.
gk_integration_test(integration_ipfeed test_ipfeed.py 300 $<TARGET_FILE:gk-sync>)
