//! Tests of configuration parsing, validation and the report.
