//! What every function binary shares: serve one handler on the Lambda runtime.

use lambda_http::{service_fn, Request};
use std::convert::Infallible;
use std::future::Future;

use crate::domain::error::ApiError;
use crate::edge::http::{respond, Reply};

/// Runs `handler` for every invocation; its result is turned into the response here,
/// so errors are always answered in the documented shape.
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>> + Send,
{
    lambda_http::run(service_fn(|req: Request| {
        let reply = handler(req);
        async move { Ok::<_, Infallible>(respond(reply.await)) }
    }))
    .await
}
