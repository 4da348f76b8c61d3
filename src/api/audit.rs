use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::payload::Json;
use poem_openapi::types::Any;

use super::problem::{OpResult, ReadRestricted};
use super::{ApiTags, Credentials, State, allow};
use crate::access::Operation;
use crate::service::log;

pub struct AuditApi;

#[OpenApi(prefix_path = "/api/v1/audit", tag = "ApiTags::Audit")]
impl AuditApi {
    /// The audit bundle (docs/audit.md): every entry covered by the latest signed
    /// checkpoint (secret ballots by hash only), member keys, proposals and results.
    /// Auditors only. Check it with `mandaat audit verify`.
    #[oai(path = "/bundle", method = "get")]
    async fn bundle(
        &self,
        state: Data<&State>,
        auth: Credentials,
    ) -> OpResult<Json<Any<log::Bundle>>, ReadRestricted> {
        allow(
            &state.authenticate(&auth).await?,
            Operation::ExportAuditBundle,
        )?;
        // Sign a checkpoint first, so the bundle covers everything accepted so far.
        state
            .log
            .checkpoint(&state.store, state.clock.now())
            .await?;
        let bundle = log::bundle(&state.store, state.log.verifier_key(), &state.log.origin).await?;
        Ok(Json(Any(bundle)))
    }
}
