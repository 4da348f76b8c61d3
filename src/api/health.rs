use poem::web::Data;
use poem_openapi::payload::PlainText;
use poem_openapi::{ApiResponse, OpenApi};

use super::problem::ApiError;
use super::problem::{OpResult, Probe};
use super::{ApiTags, State};

pub struct HealthApi;

#[derive(ApiResponse)]
enum Health {
    /// The process is alive / the database answers.
    #[oai(status = 200)]
    Ok(PlainText<&'static str>),
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness: the process answers.
    #[oai(path = "/healthz", method = "get")]
    async fn healthz(&self) -> Health {
        Health::Ok(PlainText("ok"))
    }

    /// Readiness: the database is reachable.
    #[oai(path = "/readyz", method = "get")]
    async fn readyz(&self, state: Data<&State>) -> OpResult<Health, Probe> {
        match state.store.ping().await {
            Ok(()) => Ok(Health::Ok(PlainText("ready"))),
            Err(e) => {
                tracing::warn!(error = %e, "readiness check failed");
                Err(ApiError::problem(
                    poem::http::StatusCode::SERVICE_UNAVAILABLE,
                    "database-unavailable",
                    "the database does not answer",
                )
                .into())
            }
        }
    }
}
