# SPDX-License-Identifier: MIT
# cmake/check_modules.cmake -- the module_boundaries test (cmake -P):
#   1. no file includes another module's internal header (<module>/internal.h,
#      <module>/*_internal.h). A module's own files (src/<module>/), its unit tests
#      (tests/unit/<module>/) and its fuzzer (tests/fuzz/fuzz_<module>.c) may; so may the
#      white-box bench programs listed below. (The build refuses such an include anyway:
#      this names every offender at once, and covers files a build configuration skips.)
#   2. the module graph in docs/ARCHITECTURE.md is the one the build enforces
#      (GRAPH: written by src/CMakeLists.txt from each module's DEPS);
#   3. tests mirror src/: every module has its tests/unit/<module>/.
# Usage: cmake -DROOT=<source dir> -DGRAPH=<build dir>/module-graph.txt -P check_modules.cmake
cmake_minimum_required(VERSION 3.25)

# white-box programs outside a module's tests: file -> the module whose internals it reads
set(WHITEBOX_bench/stlook.c status)
set(WHITEBOX_tests/integration/xfr_fetch.c xfr) # text in and out around the wire records

set(failures "")
file(GLOB_RECURSE files RELATIVE ${ROOT} ${ROOT}/src/*.[ch] ${ROOT}/tests/*.[ch] ${ROOT}/bench/*.[ch])
foreach(f ${files})
	set(own "")
	if(f MATCHES "^src/([a-z_]+)/")
		set(own ${CMAKE_MATCH_1})
	elseif(f MATCHES "^tests/unit/([a-z_]+)/")
		set(own ${CMAKE_MATCH_1})
	elseif(f MATCHES "^tests/fuzz/fuzz_([a-z]+)")
		set(own ${CMAKE_MATCH_1})
	elseif(DEFINED WHITEBOX_${f})
		set(own ${WHITEBOX_${f}})
	endif()
	file(STRINGS ${ROOT}/${f} incs REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<][a-z_]+/[a-z_]*internal\\.h[\">]")
	foreach(i ${incs})
		string(REGEX MATCH "([a-z_]+)/([a-z_]*internal\\.h)" m "${i}")
		if(NOT CMAKE_MATCH_1 STREQUAL own)
			list(APPEND failures "${f}: includes ${CMAKE_MATCH_1}/${CMAKE_MATCH_2}, internal to src/${CMAKE_MATCH_1}/ (use its public header)")
		endif()
	endforeach()
endforeach()

# the documented graph: the lines between the two markers in docs/ARCHITECTURE.md
file(READ ${ROOT}/docs/ARCHITECTURE.md doc)
string(REGEX MATCH "<!-- module-graph: begin -->\n```\n(.*)```\n<!-- module-graph: end -->" found "${doc}")
if(NOT found)
	list(APPEND failures "docs/ARCHITECTURE.md: no module graph between the module-graph markers")
else()
	set(documented "${CMAKE_MATCH_1}")
	file(READ ${GRAPH} built)
	# compare line by line, ignoring alignment
	string(REGEX REPLACE ":[ ]+" ": " documented "${documented}")
	string(REGEX REPLACE "[ ]+\n" "\n" documented "${documented}")
	string(REGEX REPLACE "[ ]+\n" "\n" built "${built}")
	if(NOT documented STREQUAL built)
		list(APPEND failures "docs/ARCHITECTURE.md: the module graph differs from the build's (src/*/CMakeLists.txt DEPS); the build's is:\n${built}")
	endif()
endif()

# every module has its unit test directory
file(STRINGS ${GRAPH} graph_lines)
foreach(l ${graph_lines})
	string(REGEX MATCH "^([a-z_]+):" m "${l}")
	set(mod ${CMAKE_MATCH_1})
	set(dir tests/unit/${mod})
	if(NOT EXISTS ${ROOT}/${dir}/CMakeLists.txt)
		list(APPEND failures "src/${mod}/: no ${dir}/CMakeLists.txt (tests mirror src/)")
	endif()
endforeach()

if(failures)
	list(JOIN failures "\n" msg)
	message(FATAL_ERROR "module boundaries:\n${msg}")
endif()
message(STATUS "module boundaries: no include of another module's internal header; the documented graph is the built one; every module has its tests")
