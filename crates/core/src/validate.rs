//! Validation of parameters and bodies against an operation table (filled in next).
