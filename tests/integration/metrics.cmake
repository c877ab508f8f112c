# SPDX-License-Identifier: MIT
# tests/integration/metrics.cmake -- the Prometheus endpoint and the dnstap decision log.
gk_integration_test(integration_metrics test_metrics.py 120)
# half-open connections to the metrics endpoint do not lock a scraper out
gk_integration_test(integration_metrics_halfopen test_metrics.py 60 halfopen)
