use thiserror::Error;

#[derive(Debug, Error)]
pub enum AccountsError {
    /// Bad input from the user: the message names the argument and the fix.
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("state database: {0}")]
    Store(String),
    /// The provider or the token store refused (message from the API client).
    #[error(transparent)]
    Core(#[from] hlbridge_core::error::Error),
}

impl AccountsError {
    /// True when the user can fix it by changing what they typed.
    pub fn is_input(&self) -> bool {
        match self {
            AccountsError::Input(_) | AccountsError::NotFound(_) | AccountsError::Conflict(_) => {
                true
            }
            AccountsError::Core(e) => e.is_input_error(),
            AccountsError::Store(_) => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, AccountsError>;
