//! The engine's typed errors.

/// Everything that can stop a sync step.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad or missing configuration; the message names the setting and the fix.
    #[error("configuration: {0}")]
    Config(String),
    /// The mapping does not fit the accounts; the message names the field and the fix.
    #[error("mapping: {0}")]
    Mapping(String),
    /// The state store failed.
    #[error("state store: {0}")]
    Store(String),
    /// An API call failed (GHL or Sellsy).
    #[error("{side}: {source}")]
    Api {
        side: &'static str,
        #[source]
        source: hlbridge_core::Error,
    },
    /// A record could not be read or written as expected.
    #[error("{0}")]
    Data(String),
}

impl EngineError {
    pub fn ghl(source: hlbridge_core::Error) -> Self {
        EngineError::Api {
            side: "GHL",
            source,
        }
    }

    pub fn sellsy(source: hlbridge_core::Error) -> Self {
        EngineError::Api {
            side: "Sellsy",
            source,
        }
    }

    /// The daily request budget is spent: the sync pauses until it resets.
    pub fn is_daily_limit(&self) -> bool {
        matches!(
            self,
            EngineError::Api {
                source: hlbridge_core::Error::DailyLimitReached { .. },
                ..
            }
        )
    }

    /// 404 from the API.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            EngineError::Api {
                source: hlbridge_core::Error::NotFound { .. },
                ..
            }
        )
    }
}

impl From<rusqlite::Error> for EngineError {
    fn from(e: rusqlite::Error) -> Self {
        EngineError::Store(e.to_string())
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
