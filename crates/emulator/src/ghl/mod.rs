//! The GoHighLevel API v2 emulator.
