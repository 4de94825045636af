//! Fault injection shared by both emulators.
