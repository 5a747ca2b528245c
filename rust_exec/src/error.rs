//! Typed contract errors: every variant names the offending field.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContractError {
    /// The document is not valid JSON or a field has the wrong JSON type / an unknown value.
    #[error("{field}: {message}")]
    Malformed { field: String, message: String },
    #[error("{field}: must be > 0, got {value}")]
    NotPositive { field: &'static str, value: String },
    #[error("{field}: must be >= 0, got {value}")]
    Negative { field: &'static str, value: String },
    #[error("{field}: at most 28 digits and 18 decimal places, got {value}")]
    Precision { field: &'static str, value: String },
    #[error("{field}: {rule}, got {value:?}")]
    Pattern {
        field: &'static str,
        value: String,
        rule: &'static str,
    },
    #[error("{field}: {reason}")]
    Inconsistent { field: &'static str, reason: String },
}

impl ContractError {
    /// The dotted path of the field at fault (`""` for the document root).
    pub fn field(&self) -> &str {
        match self {
            ContractError::Malformed { field, .. } => field,
            ContractError::NotPositive { field, .. }
            | ContractError::Negative { field, .. }
            | ContractError::Precision { field, .. }
            | ContractError::Pattern { field, .. }
            | ContractError::Inconsistent { field, .. } => field,
        }
    }
}
