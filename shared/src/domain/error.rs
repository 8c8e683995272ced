//! The one error type of the API; `edge::http::error_response` is the one place that
//! maps it to the wire.

use std::fmt;

/// The application error codes of the API's error model (openapi.yaml, docs/api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Default,
    Auth,
    InactiveUser,
    Token,
    Security,
    Access,
    NotFound,
    Cognito,
    Totp,
    Cost,
    Duplicate,
    Pending,
    InvalidEmail,
    DbInsert,
    DbUpdate,
    DbDelete,
    InternalError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Default => "DEFAULT",
            ErrorCode::Auth => "AUTH",
            ErrorCode::InactiveUser => "INACTIVE_USER",
            ErrorCode::Token => "TOKEN",
            ErrorCode::Security => "SECURITY",
            ErrorCode::Access => "ACCESS",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Cognito => "COGNITO",
            ErrorCode::Totp => "TOTP",
            ErrorCode::Cost => "COST",
            ErrorCode::Duplicate => "DUPLICATE",
            ErrorCode::Pending => "PENDING",
            ErrorCode::InvalidEmail => "INVALID_EMAIL",
            ErrorCode::DbInsert => "DB_INSERT",
            ErrorCode::DbUpdate => "DB_UPDATE",
            ErrorCode::DbDelete => "DB_DELETE",
            ErrorCode::InternalError => "INTERNAL_ERROR",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a handler can answer besides success.
#[derive(Debug)]
pub enum ApiError {
    /// 401: authentication missing or invalid, or a caller who may not sign in.
    Unauthorized,
    /// 499: an application-level problem, with its code and a message for people.
    App { code: ErrorCode, message: String },
    /// 400: only where the specification says so.
    BadRequest { code: ErrorCode, message: String },
    /// 429: too many requests; the client may retry after this many seconds.
    TooManyRequests { retry_after_seconds: u64 },
    /// 500: the detail and its causes are logged, never sent.
    Internal(InternalError),
}

/// What went wrong inside, with the error that caused it when there is one, so the log
/// shows the whole chain (an SDK error's service code, its HTTP failure, ...).
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
pub struct InternalError {
    context: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl InternalError {
    /// The context and every cause, outermost first.
    pub fn chain(&self) -> String {
        let mut text = self.context.clone();
        let mut cause = std::error::Error::source(self);
        while let Some(err) = cause {
            text.push_str(": ");
            text.push_str(&err.to_string());
            cause = err.source();
        }
        text
    }
}

impl ApiError {
    pub fn app(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::App {
            code,
            message: message.into(),
        }
    }

    /// A write that kept losing to concurrent writes of the same items: nothing is wrong
    /// with the request or the service, so the client is told to try again shortly (429
    /// with `Retry-After: 1`) rather than handed a 500. The detail goes to the log.
    pub fn contended(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(%detail, "write contended; answering 429");
        ApiError::TooManyRequests {
            retry_after_seconds: 1,
        }
    }

    /// A request the database throttled even after the SDK's retries: the client is told
    /// to come back shortly (429 with `Retry-After: 1`), and the detail goes to the log so
    /// that an operator sees which call ran out of capacity.
    pub fn throttled(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(%detail, "throttled by the database; answering 429");
        ApiError::TooManyRequests {
            retry_after_seconds: 1,
        }
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn internal(detail: impl fmt::Display) -> Self {
        ApiError::Internal(InternalError {
            context: detail.to_string(),
            source: None,
        })
    }

    /// A 500 that keeps the error that caused it.
    pub fn internal_caused_by(
        context: impl fmt::Display,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ApiError::Internal(InternalError {
            context: context.to_string(),
            source: Some(Box::new(cause)),
        })
    }

    /// The application code, for 499 and 400 answers.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ApiError::App { code, .. } | ApiError::BadRequest { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unauthorized => f.write_str("unauthorized"),
            ApiError::App { code, message } | ApiError::BadRequest { code, message } => {
                write!(f, "{code}: {message}")
            }
            ApiError::TooManyRequests {
                retry_after_seconds,
            } => {
                write!(f, "too many requests, retry after {retry_after_seconds} s")
            }
            ApiError::Internal(detail) => write!(f, "internal: {}", detail.chain()),
        }
    }
}

impl std::error::Error for ApiError {}

/// A refused client value is a 499 naming the field.
impl From<crate::domain::Invalid> for ApiError {
    fn from(invalid: crate::domain::Invalid) -> Self {
        let code = match invalid.kind {
            crate::domain::InvalidKind::Value => ErrorCode::Default,
            crate::domain::InvalidKind::Email => ErrorCode::InvalidEmail,
        };
        ApiError::app(code, invalid.message)
    }
}
