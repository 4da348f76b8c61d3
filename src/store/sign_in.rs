//! Accounts at providers, sign-in requests and sign-ins in progress: rows in,
//! domain types out. Every change that must not half-happen is one transaction.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use entity::{account, person, session, sign_in_flow, sign_in_request};

use super::Store;
use super::people::{NewSession, insert_session, to_active};
use crate::domain::person::{Person, SecretHash};
use crate::domain::sign_in::{AccountClaims, RequestStatus};
use crate::error::{ConflictKind, Error, Result};

/// A sign-in at a provider in progress.
#[derive(Debug, Clone)]
pub struct SignInFlow {
    pub provider: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
    pub invitation_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An account bound to a person.
#[derive(Debug, Clone)]
pub struct StoredAccount {
    pub id: Uuid,
    pub provider: String,
    pub person_id: Uuid,
}

/// A sign-in request as stored.
#[derive(Debug, Clone)]
pub struct StoredSignInRequest {
    pub id: Uuid,
    pub provider: String,
    pub claims: AccountClaims,
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub person_id: Option<Uuid>,
}

/// A new account to bind.
pub struct NewAccount<'a> {
    pub claims: &'a AccountClaims,
    pub provider: &'a str,
    pub person_id: Uuid,
    pub now: DateTime<Utc>,
}

impl Store {
    /// Stores a sign-in in progress; expired ones go first, so that abandoned
    /// sign-ins do not pile up.
    pub async fn insert_sign_in_flow(
        &self,
        state_hash: &SecretHash,
        flow: &SignInFlow,
    ) -> Result<()> {
        sign_in_flow::Entity::delete_many()
            .filter(sign_in_flow::Column::ExpiresAt.lte(flow.created_at))
            .exec(&self.db)
            .await?;
        sign_in_flow::ActiveModel {
            state_hash: Set(state_hash.as_str().to_owned()),
            provider: Set(flow.provider.clone()),
            nonce: Set(flow.nonce.clone()),
            pkce_verifier: Set(flow.pkce_verifier.clone()),
            redirect_uri: Set(flow.redirect_uri.clone()),
            invitation_id: Set(flow.invitation_id),
            created_at: Set(flow.created_at),
            expires_at: Set(flow.expires_at),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Takes a sign-in in progress out of the table: of two callbacks with the same
    /// state, only the one whose delete removed the row gets it. Expired flows go
    /// with it.
    pub async fn take_sign_in_flow(
        &self,
        state_hash: &SecretHash,
        now: DateTime<Utc>,
    ) -> Result<Option<SignInFlow>> {
        sign_in_flow::Entity::delete_many()
            .filter(sign_in_flow::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?;
        let Some(row) = sign_in_flow::Entity::find_by_id(state_hash.as_str().to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let taken = sign_in_flow::Entity::delete_many()
            .filter(sign_in_flow::Column::StateHash.eq(state_hash.as_str()))
            .exec(&self.db)
            .await?;
        if taken.rows_affected != 1 {
            return Ok(None);
        }
        Ok(Some(SignInFlow {
            provider: row.provider,
            nonce: row.nonce,
            pkce_verifier: row.pkce_verifier,
            redirect_uri: row.redirect_uri,
            invitation_id: row.invitation_id,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }))
    }

    pub async fn account(&self, issuer: &str, subject: &str) -> Result<Option<StoredAccount>> {
        let row = account::Entity::find()
            .filter(account::Column::Issuer.eq(issuer))
            .filter(account::Column::Subject.eq(subject))
            .one(&self.db)
            .await?;
        Ok(row.map(to_account))
    }

    /// The accounts bound to these people, for the people listing.
    pub async fn accounts_of(&self, people: &[Uuid]) -> Result<Vec<StoredAccount>> {
        let rows = account::Entity::find()
            .filter(account::Column::PersonId.is_in(people.iter().copied()))
            .order_by_asc(account::Column::CreatedAt)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(to_account).collect())
    }

    /// Opens a session for a person whose account signed in, and records the sign-in.
    pub async fn open_account_session(&self, account_id: Uuid, new: NewSession<'_>) -> Result<()> {
        let txn = self.begin_writing().await?;
        account::Entity::update_many()
            .col_expr(account::Column::LastSignInAt, Expr::value(new.now))
            .filter(account::Column::Id.eq(account_id))
            .exec(&txn)
            .await?;
        insert_session(&txn, new).await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn sign_in_request_of(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<StoredSignInRequest>> {
        let row = sign_in_request::Entity::find()
            .filter(sign_in_request::Column::Issuer.eq(issuer))
            .filter(sign_in_request::Column::Subject.eq(subject))
            .one(&self.db)
            .await?;
        row.map(to_request).transpose()
    }

    pub async fn sign_in_request(&self, id: Uuid) -> Result<StoredSignInRequest> {
        sign_in_request::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("sign-in request {id}")))
            .and_then(to_request)
    }

    /// Requests with this status, newest attempt first.
    pub async fn sign_in_requests(
        &self,
        status: RequestStatus,
    ) -> Result<Vec<StoredSignInRequest>> {
        let rows = sign_in_request::Entity::find()
            .filter(sign_in_request::Column::Status.eq(status.as_str()))
            .order_by_desc(sign_in_request::Column::LastSeenAt)
            .order_by_asc(sign_in_request::Column::Id)
            .all(&self.db)
            .await?;
        rows.into_iter().map(to_request).collect()
    }

    /// Records a sign-in attempt by an unknown account: a new pending request, or, for
    /// a pending one, what the provider says now. A decided request stays as decided.
    pub async fn record_sign_in_request(
        &self,
        provider: &str,
        claims: &AccountClaims,
        now: DateTime<Utc>,
    ) -> Result<StoredSignInRequest> {
        if let Some(existing) = self
            .sign_in_request_of(&claims.issuer, &claims.subject)
            .await?
        {
            if existing.status == RequestStatus::Pending {
                sign_in_request::Entity::update_many()
                    .col_expr(sign_in_request::Column::LastSeenAt, Expr::value(now))
                    .col_expr(
                        sign_in_request::Column::Name,
                        Expr::value(claims.display_name()),
                    )
                    .col_expr(
                        sign_in_request::Column::Email,
                        Expr::value(claims.email.clone()),
                    )
                    .col_expr(
                        sign_in_request::Column::HomeOrganization,
                        Expr::value(claims.home_organization.clone()),
                    )
                    .filter(sign_in_request::Column::Id.eq(existing.id))
                    .exec(&self.db)
                    .await?;
                return self.sign_in_request(existing.id).await;
            }
            return Ok(existing);
        }
        let id = Uuid::new_v4();
        sign_in_request::ActiveModel {
            id: Set(id),
            issuer: Set(claims.issuer.clone()),
            subject: Set(claims.subject.clone()),
            provider: Set(provider.to_owned()),
            name: Set(claims.display_name()),
            email: Set(claims.email.clone()),
            home_organization: Set(claims.home_organization.clone()),
            status: Set(RequestStatus::Pending.as_str().to_owned()),
            created_at: Set(now),
            last_seen_at: Set(now),
            decided_by: Set(None),
            decided_at: Set(None),
            person_id: Set(None),
        }
        .insert(&self.db)
        .await?;
        self.sign_in_request(id).await
    }

    /// Approves a pending request: the person is added and the account bound to them,
    /// all or nothing. A request no longer pending is a conflict.
    pub async fn approve_sign_in_request(
        &self,
        request: &StoredSignInRequest,
        person: &Person,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let txn = self.begin_writing().await?;
        let decided = decide(
            request.id,
            RequestStatus::Approved,
            Some(person.id),
            by,
            now,
        )
        .exec(&txn)
        .await?;
        if decided.rows_affected != 1 {
            txn.rollback().await?;
            return Err(not_pending(request.id));
        }
        to_active(person).insert(&txn).await?;
        insert_account(
            &txn,
            &NewAccount {
                claims: &request.claims,
                provider: &request.provider,
                person_id: person.id,
                now,
            },
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn reject_sign_in_request(
        &self,
        id: Uuid,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let decided = decide(id, RequestStatus::Rejected, None, by, now)
            .exec(&self.db)
            .await?;
        if decided.rows_affected != 1 {
            return Err(not_pending(id));
        }
        Ok(())
    }

    /// Removes a person's designation and ends their sessions at once, together.
    /// `false` when it was removed already.
    pub async fn remove_person(
        &self,
        id: Uuid,
        by: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let txn = self.begin_writing().await?;
        let removed = person::Entity::update_many()
            .col_expr(person::Column::RemovedAt, Expr::value(now))
            .col_expr(person::Column::RemovedBy, Expr::value(by))
            .col_expr(person::Column::UpdatedAt, Expr::value(now))
            .filter(person::Column::Id.eq(id))
            .filter(person::Column::RemovedAt.is_null())
            .exec(&txn)
            .await?;
        if removed.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        session::Entity::update_many()
            .col_expr(session::Column::EndedAt, Expr::value(now))
            .col_expr(session::Column::EndReason, Expr::value(reason))
            .filter(session::Column::PersonId.eq(id))
            .filter(session::Column::EndedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }
}

fn decide(
    id: Uuid,
    status: RequestStatus,
    person_id: Option<Uuid>,
    by: &str,
    now: DateTime<Utc>,
) -> sea_orm::UpdateMany<sign_in_request::Entity> {
    sign_in_request::Entity::update_many()
        .col_expr(
            sign_in_request::Column::Status,
            Expr::value(status.as_str()),
        )
        .col_expr(sign_in_request::Column::DecidedBy, Expr::value(by))
        .col_expr(sign_in_request::Column::DecidedAt, Expr::value(now))
        .col_expr(sign_in_request::Column::PersonId, Expr::value(person_id))
        .filter(sign_in_request::Column::Id.eq(id))
        .filter(sign_in_request::Column::Status.eq(RequestStatus::Pending.as_str()))
}

fn not_pending(id: Uuid) -> Error {
    Error::Conflict {
        kind: ConflictKind::RequestDecided,
        detail: format!("sign-in request {id} was already approved or rejected"),
    }
}

pub(super) async fn insert_account(
    db: &impl sea_orm::ConnectionTrait,
    new: &NewAccount<'_>,
) -> Result<()> {
    account::ActiveModel {
        id: Set(Uuid::new_v4()),
        issuer: Set(new.claims.issuer.clone()),
        subject: Set(new.claims.subject.clone()),
        provider: Set(new.provider.to_owned()),
        person_id: Set(new.person_id),
        created_at: Set(new.now),
        last_sign_in_at: Set(Some(new.now)),
    }
    .insert(db)
    .await?;
    Ok(())
}

fn to_account(row: account::Model) -> StoredAccount {
    StoredAccount {
        id: row.id,
        provider: row.provider,
        person_id: row.person_id,
    }
}

fn to_request(row: sign_in_request::Model) -> Result<StoredSignInRequest> {
    let status = row
        .status
        .parse::<RequestStatus>()
        .map_err(|e| Error::Corrupt(format!("sign-in request {}: {e}", row.id)))?;
    Ok(StoredSignInRequest {
        id: row.id,
        provider: row.provider,
        claims: AccountClaims {
            issuer: row.issuer,
            subject: row.subject,
            name: Some(row.name),
            email: row.email,
            home_organization: row.home_organization,
        },
        status,
        created_at: row.created_at,
        last_seen_at: row.last_seen_at,
        decided_by: row.decided_by,
        decided_at: row.decided_at,
        person_id: row.person_id,
    })
}
