# SPDX-License-Identifier: MIT
# tests/integration/resolver.cmake -- Unbound (Debian's unbound) as a recursive resolver in front of
# gatekeeperd: what a person behind it sees for each action. The script exits 77 (ctest: skipped,
# with the reason in its output) when unbound is not installed.
find_program(GK_UNBOUND unbound PATHS /usr/sbin NO_DEFAULT_PATH)
if(NOT GK_UNBOUND)
	set(GK_UNBOUND /usr/sbin/unbound) # missing: the test says so and exits 77 (skipped)
endif()
gk_integration_test(integration_resolver test_resolver.py 120)
set_tests_properties(integration_resolver PROPERTIES SKIP_RETURN_CODE 77)
set_property(TEST integration_resolver APPEND PROPERTY ENVIRONMENT "GK_UNBOUND=${GK_UNBOUND}")
