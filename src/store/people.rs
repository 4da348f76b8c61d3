//! People, invitations and sessions: rows in, domain types out.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use entity::{invitation, person, session};

use super::Store;
use super::sign_in::{NewAccount, insert_account};
use crate::domain::member::Sector;
use crate::domain::person::{Designation, Email, Person, PersonName, SecretHash};
use crate::error::{Error, Result};

/// An invitation as stored: whose it is and whether it can still be used.
#[derive(Debug, Clone)]
pub struct StoredInvitation {
    pub id: Uuid,
    pub person_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// A session as stored; the secret itself is never kept.
#[derive(Debug, Clone)]
pub struct StoredSession {
    pub id: Uuid,
    pub person_id: Uuid,
    pub signed_in_with: String,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// A new invitation to store; only the hash of its secret.
pub struct NewInvitation<'a> {
    pub id: Uuid,
    pub person_id: Uuid,
    pub token_hash: &'a SecretHash,
    pub created_by: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A new session to store.
pub struct NewSession<'a> {
    pub id: Uuid,
    pub person_id: Uuid,
    pub token_hash: &'a SecretHash,
    pub signed_in_with: &'a str,
    pub user_agent: Option<String>,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct PeopleFilter {
    pub role: Option<String>,
    pub member_id: Option<Uuid>,
    pub limit: u64,
    pub offset: u64,
}

impl Store {
    pub async fn person(&self, id: Uuid) -> Result<Person> {
        person::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("person {id}")))
            .and_then(to_person)
    }

    pub async fn people(&self, filter: &PeopleFilter) -> Result<(Vec<Person>, u64)> {
        let mut query = person::Entity::find();
        if let Some(role) = &filter.role {
            query = query.filter(person::Column::Role.eq(role.as_str()));
        }
        if let Some(member_id) = filter.member_id {
            query = query.filter(person::Column::MemberId.eq(member_id));
        }
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_asc(person::Column::Name)
            .order_by_asc(person::Column::Id)
            .offset(filter.offset)
            .limit(filter.limit)
            .all(&self.db)
            .await?;
        let people = rows.into_iter().map(to_person).collect::<Result<_>>()?;
        Ok((people, total))
    }

    /// Stores an invitation, and with it the person it invites when they are new:
    /// in one transaction, so a failure leaves no person without a way in.
    pub async fn insert_invitation(
        &self,
        new_person: Option<&Person>,
        invitation: NewInvitation<'_>,
    ) -> Result<()> {
        let txn = self.begin_writing().await?;
        if let Some(person) = new_person {
            to_active(person).insert(&txn).await?;
        }
        invitation::ActiveModel {
            id: Set(invitation.id),
            person_id: Set(invitation.person_id),
            token_hash: Set(invitation.token_hash.as_str().to_owned()),
            created_by: Set(invitation.created_by.to_owned()),
            created_at: Set(invitation.now),
            expires_at: Set(invitation.expires_at),
            used_at: Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn invitation_by_hash(&self, hash: &SecretHash) -> Result<Option<StoredInvitation>> {
        let row = invitation::Entity::find()
            .filter(invitation::Column::TokenHash.eq(hash.as_str()))
            .one(&self.db)
            .await?;
        Ok(row.map(|r| StoredInvitation {
            id: r.id,
            person_id: r.person_id,
            expires_at: r.expires_at,
            used_at: r.used_at,
        }))
    }

    pub async fn invitation(&self, id: Uuid) -> Result<StoredInvitation> {
        let row = invitation::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::NotFound(format!("invitation {id}")))?;
        Ok(StoredInvitation {
            id: row.id,
            person_id: row.person_id,
            expires_at: row.expires_at,
            used_at: row.used_at,
        })
    }

    /// Marks the invitation used and stores the session it opens (and the account it
    /// was accepted with, if any), in one transaction. The update only matches an
    /// unused invitation, so of two concurrent uses exactly one signs in; the other
    /// gets `false` and nothing is written. An account bound a moment earlier by
    /// another sign-in is a conflict.
    pub async fn redeem_invitation(
        &self,
        invitation_id: Uuid,
        account: Option<NewAccount<'_>>,
        new: NewSession<'_>,
    ) -> Result<bool> {
        let txn = self.begin_writing().await?;
        let claimed = invitation::Entity::update_many()
            .col_expr(invitation::Column::UsedAt, Expr::value(new.now))
            .filter(invitation::Column::Id.eq(invitation_id))
            .filter(invitation::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if claimed.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        if let Some(account) = account {
            insert_account(&txn, &account).await?;
        }
        insert_session(&txn, new).await?;
        txn.commit().await?;
        Ok(true)
    }

    pub async fn session_by_hash(&self, hash: &SecretHash) -> Result<Option<StoredSession>> {
        let row = session::Entity::find()
            .filter(session::Column::TokenHash.eq(hash.as_str()))
            .one(&self.db)
            .await?;
        Ok(row.map(to_session))
    }

    /// Records a use of a live session: it stays alive until `expires_at`.
    pub async fn touch_session(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(now))
            .col_expr(session::Column::ExpiresAt, Expr::value(expires_at))
            .filter(session::Column::Id.eq(id))
            .filter(session::Column::EndedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Sessions of a person that have not ended and not expired at `now`.
    pub async fn live_sessions(
        &self,
        person_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<StoredSession>> {
        let rows = session::Entity::find()
            .filter(session::Column::PersonId.eq(person_id))
            .filter(session::Column::EndedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now))
            .order_by_desc(session::Column::LastSeenAt)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(to_session).collect())
    }

    /// Live sessions per person, for the people listing.
    pub async fn live_session_counts(
        &self,
        people: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<Uuid, u64>> {
        let rows: Vec<(Uuid, i64)> = session::Entity::find()
            .select_only()
            .column(session::Column::PersonId)
            .column_as(session::Column::Id.count(), "n")
            .filter(session::Column::PersonId.is_in(people.iter().copied()))
            .filter(session::Column::EndedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now))
            .group_by(session::Column::PersonId)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    /// Ends one session (sign-out). Returns whether it was still open.
    pub async fn end_session(&self, id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<bool> {
        let ended = session::Entity::update_many()
            .col_expr(session::Column::EndedAt, Expr::value(now))
            .col_expr(session::Column::EndReason, Expr::value(reason))
            .filter(session::Column::Id.eq(id))
            .filter(session::Column::EndedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(ended.rows_affected == 1)
    }

    /// Ends every open session of a person; returns how many were live at `now`.
    pub async fn end_sessions_of(
        &self,
        person_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let ended = session::Entity::update_many()
            .col_expr(session::Column::EndedAt, Expr::value(now))
            .col_expr(session::Column::EndReason, Expr::value(reason))
            .filter(session::Column::PersonId.eq(person_id))
            .filter(session::Column::EndedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await?;
        Ok(ended.rows_affected)
    }
}

pub(super) async fn insert_session(db: &impl ConnectionTrait, new: NewSession<'_>) -> Result<()> {
    session::ActiveModel {
        id: Set(new.id),
        person_id: Set(new.person_id),
        token_hash: Set(new.token_hash.as_str().to_owned()),
        signed_in_with: Set(new.signed_in_with.to_owned()),
        user_agent: Set(new.user_agent),
        created_at: Set(new.now),
        last_seen_at: Set(new.now),
        expires_at: Set(new.expires_at),
        ended_at: Set(None),
        end_reason: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub(super) fn to_active(p: &Person) -> person::ActiveModel {
    person::ActiveModel {
        id: Set(p.id),
        name: Set(p.name.as_str().to_owned()),
        email: Set(p.email.as_str().to_owned()),
        role: Set(p.designation.role().to_owned()),
        member_id: Set(p.designation.member_id()),
        sector: Set(p.designation.sector().map(|s| s.as_str().to_owned())),
        created_by: Set(p.created_by.clone()),
        created_at: Set(p.created_at),
        updated_at: Set(p.created_at),
        removed_at: Set(p.removed_at),
        removed_by: Set(None),
    }
}

pub(super) fn to_person(row: person::Model) -> Result<Person> {
    let corrupt = |what: String| Error::Corrupt(format!("person {}: {what}", row.id));
    let sector = row
        .sector
        .as_deref()
        .map(str::parse::<Sector>)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    Ok(Person {
        id: row.id,
        name: PersonName::new(&row.name).map_err(|e| corrupt(e.to_string()))?,
        email: Email::new(&row.email).map_err(|e| corrupt(e.to_string()))?,
        designation: Designation::new(&row.role, row.member_id, sector)
            .map_err(|e| corrupt(e.to_string()))?,
        created_by: row.created_by,
        created_at: row.created_at,
        removed_at: row.removed_at,
    })
}

fn to_session(row: session::Model) -> StoredSession {
    StoredSession {
        id: row.id,
        person_id: row.person_id,
        signed_in_with: row.signed_in_with,
        user_agent: row.user_agent,
        created_at: row.created_at,
        last_seen_at: row.last_seen_at,
        expires_at: row.expires_at,
        ended_at: row.ended_at,
    }
}
