//! Unit-test runner tests.
