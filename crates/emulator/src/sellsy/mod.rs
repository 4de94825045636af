//! The Sellsy API v2 emulator.
