# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/__init__.py -- one module per scenario (see bench/README.md).
