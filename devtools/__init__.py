"""Tools for working on Glastonbury, not part of it: the local stack of `make up` (`devstack`).
The bench (`bench/`) and the chaos harness (`tests/chaos/`) sit beside the tests. Nothing in the
product's packages imports from here."""
