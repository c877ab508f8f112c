# SPDX-License-Identifier: MIT
# tests/integration/metrics.cmake -- the Prometheus endpoint and the dnstap decision log.
find_program(GK_REDIS_SERVER redis-server PATHS /usr/bin NO_DEFAULT_PATH)
find_program(GK_DNSTAP_LDNS dnstap-ldns)
find_program(GK_PROTOC protoc)
if(GK_REDIS_SERVER AND GK_DNSTAP_LDNS AND GK_PROTOC)
	gk_integration_test(integration_metrics test_metrics.py 120)
else()
	message(STATUS "redis-server, dnstap-ldns or protoc not found: integration_metrics not registered")
endif()
# half-open connections to the metrics endpoint do not lock a scraper out
gk_integration_test(integration_metrics_halfopen test_metrics.py 60 halfopen)
