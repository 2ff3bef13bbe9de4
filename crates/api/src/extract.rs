//! Request parts the handlers take, with every rejection as problem+json: axum's own extractors
//! answer in plain text, which the API promises never to do.

use crate::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;

/// A whole request body, read under axum's default limit (2 MiB; over it: 413).
pub(crate) struct Body(pub(crate) axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge {
                    detail: e.body_text(),
                    errors: vec![],
                },
                _ => ApiError::Malformed(e.body_text()),
            })
    }
}

/// Path parameters. One that cannot be decoded (not UTF-8 once percent-decoded) names nothing
/// here: 404.
pub(crate) struct PathParams<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| PathParams(t))
            .map_err(|_| ApiError::NotFound)
    }
}
