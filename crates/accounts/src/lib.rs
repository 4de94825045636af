//! Connections and pairs.
