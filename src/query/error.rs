//! What a query can answer instead of its result: something asked for does not exist, the
//! request cannot be answered as asked, or the store failed. `http` turns these into its
//! status codes; the codes are the API's stable error codes.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// What was asked for does not exist (404).
    #[error("{detail}")]
    NotFound { code: &'static str, detail: String },
    /// The request cannot be answered as asked (400).
    #[error("{detail}")]
    Invalid { code: &'static str, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl QueryError {
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            detail: detail.into(),
        }
    }

    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            detail: detail.into(),
        }
    }
}

/// Whether `error` (anywhere in its chain) says the store could not be reached, rather than
/// that the request or the data were wrong.
pub fn unreachable(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<StoreError>()
            .or_else(|| match e.downcast_ref::<QueryError>() {
                Some(QueryError::Store(store)) => Some(store),
                _ => None,
            })
            .is_some_and(StoreError::is_unavailable)
    })
}
