# SPDX-License-Identifier: MIT
# tests/integration/dnssec.cmake -- signed zones (made at test time with ldnsutils) served by
# gatekeeperd and NSD side by side, DO=0 and DO=1, UDP 512/1232 and TCP.
add_test(NAME integration_dnssec
	COMMAND ${GK_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_dnssec.py $<TARGET_FILE:gatekeeperd>
	WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
set_tests_properties(integration_dnssec PROPERTIES LABELS integration TIMEOUT 300
	ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;GK_NSD=${GK_NSD}")
# the same zones behind Unbound validating them (skipped, exit 77, without unbound); GK_UNBOUND
# comes from resolver.cmake, included before this file
gk_integration_test(integration_dnssec_resolver test_dnssec_resolver.py 180)
set_tests_properties(integration_dnssec_resolver PROPERTIES SKIP_RETURN_CODE 77)
set_property(TEST integration_dnssec_resolver APPEND PROPERTY ENVIRONMENT "GK_UNBOUND=${GK_UNBOUND}")
