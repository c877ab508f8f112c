# SPDX-License-Identifier: MIT
# tests/integration/metrics.cmake -- the Prometheus endpoint and the dnstap decision log.
gk_integration_test(integration_metrics test_metrics.py 120)
