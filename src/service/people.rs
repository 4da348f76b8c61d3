//! People: invitations, sign-in and sessions. Tokens are for machines; people sign
//! in, and every session maps to a [`Principal`] whose subject is the person's id,
//! so everything a session does is attributable to its person.
//!
//! A session records how its person proved who they are (`signed_in_with`); an
//! OpenID Connect sign-in will be one more way to create a session, nothing else.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::auth::{AuthError, CredentialError, Principal};
use crate::domain::person::{
    Designation, Email, InvitationRefusal, Person, PersonName, Secret, SecretHash, SessionPolicy,
    check_invitation,
};
use crate::error::{ConflictKind, Error, Result};
use crate::store::{NewInvitation, NewSession, PeopleFilter, Store, StoredSession};

/// How a session was opened.
pub const SIGNED_IN_WITH_INVITATION: &str = "invitation";
pub const ENDED_BY_SIGN_OUT: &str = "sign-out";
pub const ENDED_BY_ADMIN: &str = "ended-by-admin";
pub const ENDED_BY_REMOVAL: &str = "designation-removed";

/// Longest user agent kept with a session (it is only shown to help recognise a device).
const USER_AGENT_MAX_CHARS: usize = 300;

pub struct People {
    pub store: Store,
    pub policy: SessionPolicy,
}

/// A person to invite, as the secretariat enters them.
pub struct NewPerson {
    pub name: PersonName,
    pub email: Email,
    pub designation: Designation,
}

/// A freshly issued invitation: the secret is shown once and never stored.
pub struct IssuedInvitation {
    pub id: Uuid,
    pub secret: Secret,
    pub expires_at: DateTime<Utc>,
}

/// A session just opened: the cookie's secret, shown once.
pub struct OpenedSession {
    pub secret: Secret,
    pub session: StoredSession,
    pub person: Person,
}

/// A session whose row is not stored yet.
pub struct PendingSession {
    hash: SecretHash,
    pub opened: OpenedSession,
}

impl PendingSession {
    /// The row to store.
    pub fn row(&self) -> NewSession<'_> {
        let session = &self.opened.session;
        NewSession {
            id: session.id,
            person_id: session.person_id,
            token_hash: &self.hash,
            signed_in_with: &session.signed_in_with,
            user_agent: session.user_agent.clone(),
            now: session.created_at,
            expires_at: session.expires_at,
        }
    }
}

/// A removed person cannot sign in, however they try.
pub fn refuse_removed(person: &Person) -> Result<()> {
    match person.removed_at {
        None => Ok(()),
        Some(at) => Err(Error::Conflict {
            kind: ConflictKind::PersonRemoved,
            detail: format!("{}'s designation was removed at {at}", person.name.as_str()),
        }),
    }
}

/// Who is calling through a session cookie.
pub struct SessionCaller {
    pub principal: Principal,
    pub person: Person,
    pub session: StoredSession,
}

impl People {
    /// Adds a person and gives them a first invitation.
    pub async fn invite(
        &self,
        by: &Principal,
        new: NewPerson,
        validity: Duration,
        now: DateTime<Utc>,
    ) -> Result<(Person, IssuedInvitation)> {
        if let Designation::Board { member_id } = new.designation {
            // Refuse a designation for a board that does not exist (404 names it).
            self.store.member(member_id).await?;
        }
        let person = Person {
            id: Uuid::new_v4(),
            name: new.name,
            email: new.email,
            designation: new.designation,
            created_by: by.subject().to_owned(),
            created_at: now,
            removed_at: None,
        };
        let invitation = self.issue(by, &person, true, validity, now).await?;
        Ok((person, invitation))
    }

    /// A new invitation for a person already in the register (a lost link, a new device).
    pub async fn reinvite(
        &self,
        by: &Principal,
        person_id: Uuid,
        validity: Duration,
        now: DateTime<Utc>,
    ) -> Result<(Person, IssuedInvitation)> {
        let person = self.store.person(person_id).await?;
        refuse_removed(&person)?;
        let invitation = self.issue(by, &person, false, validity, now).await?;
        Ok((person, invitation))
    }

    async fn issue(
        &self,
        by: &Principal,
        person: &Person,
        person_is_new: bool,
        validity: Duration,
        now: DateTime<Utc>,
    ) -> Result<IssuedInvitation> {
        let secret = Secret::generate().map_err(|e| Error::Corrupt(format!("randomness: {e}")))?;
        let invitation = IssuedInvitation {
            id: Uuid::new_v4(),
            expires_at: now + validity,
            secret,
        };
        self.store
            .insert_invitation(
                person_is_new.then_some(person),
                NewInvitation {
                    id: invitation.id,
                    person_id: person.id,
                    token_hash: &invitation.secret.hash(),
                    created_by: by.subject(),
                    now,
                    expires_at: invitation.expires_at,
                },
            )
            .await?;
        Ok(invitation)
    }

    /// An invitation that can still sign its person in.
    pub async fn usable_invitation(
        &self,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<crate::store::StoredInvitation> {
        let invitation = self
            .store
            .invitation_by_hash(&SecretHash::of(secret))
            .await?
            .ok_or(Error::Invitation(InvitationRefusal::Unknown))?;
        check_invitation(invitation.expires_at, invitation.used_at, now)?;
        if self
            .store
            .person(invitation.person_id)
            .await?
            .removed_at
            .is_some()
        {
            return Err(InvitationRefusal::PersonRemoved.into());
        }
        Ok(invitation)
    }

    /// Redeems an invitation: it is used up and a session opens for its person.
    pub async fn sign_in(
        &self,
        invitation_secret: &str,
        user_agent: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<OpenedSession> {
        let invitation = self.usable_invitation(invitation_secret, now).await?;
        let person = self.store.person(invitation.person_id).await?;
        let pending = self.new_session(person, SIGNED_IN_WITH_INVITATION, user_agent, now)?;
        let redeemed = self
            .store
            .redeem_invitation(invitation.id, None, pending.row())
            .await?;
        if !redeemed {
            // Someone used the same link a moment earlier.
            return Err(Error::Invitation(InvitationRefusal::Used));
        }
        Ok(pending.opened)
    }

    /// A session about to open: its secret and row, stored by the caller together
    /// with whatever proves the person's identity.
    pub fn new_session(
        &self,
        person: Person,
        signed_in_with: &str,
        user_agent: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<PendingSession> {
        let secret = Secret::generate().map_err(|e| Error::Corrupt(format!("randomness: {e}")))?;
        let hash = secret.hash();
        let session = StoredSession {
            id: Uuid::new_v4(),
            person_id: person.id,
            signed_in_with: signed_in_with.to_owned(),
            user_agent: user_agent
                .map(|ua| ua.chars().take(USER_AGENT_MAX_CHARS).collect::<String>()),
            created_at: now,
            last_seen_at: now,
            expires_at: self.policy.expires_at(now),
            ended_at: None,
        };
        Ok(PendingSession {
            hash,
            opened: OpenedSession {
                secret,
                session,
                person,
            },
        })
    }

    /// Removes a person's designation: they can no longer sign in, and their sessions
    /// end at once. Removing a removed person answers them as they are.
    pub async fn remove(
        &self,
        by: &Principal,
        person_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Person> {
        self.store.person(person_id).await?;
        self.store
            .remove_person(person_id, by.subject(), ENDED_BY_REMOVAL, now)
            .await?;
        self.store.person(person_id).await
    }

    /// Turns a session cookie into its caller, keeping an active session alive.
    pub async fn authenticate(
        &self,
        cookie: &str,
        now: DateTime<Utc>,
    ) -> Result<SessionCaller, CredentialError> {
        let mut session = self
            .store
            .session_by_hash(&SecretHash::of(cookie))
            .await?
            .ok_or(AuthError::SessionInvalid)?;
        if !self
            .policy
            .is_live(session.expires_at, session.ended_at, now)
        {
            return Err(AuthError::SessionInvalid.into());
        }
        let person = self.store.person(session.person_id).await?;
        if person.removed_at.is_some() {
            // Removal ends the sessions too; this holds even for one opened meanwhile.
            return Err(AuthError::SessionInvalid.into());
        }
        if self.policy.needs_touch(session.last_seen_at, now) {
            session.last_seen_at = now;
            session.expires_at = self.policy.expires_at(now);
            self.store
                .touch_session(session.id, now, session.expires_at)
                .await?;
        }
        Ok(SessionCaller {
            principal: principal_of(&person),
            person,
            session,
        })
    }

    pub async fn sign_out(&self, session_id: Uuid, now: DateTime<Utc>) -> Result<()> {
        self.store
            .end_session(session_id, ENDED_BY_SIGN_OUT, now)
            .await?;
        Ok(())
    }

    pub async fn sessions_of(
        &self,
        person_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<StoredSession>> {
        self.store.person(person_id).await?;
        self.store.live_sessions(person_id, now).await
    }

    /// Ends every session of a person at once (an admin's decision).
    pub async fn end_sessions_of(&self, person_id: Uuid, now: DateTime<Utc>) -> Result<u64> {
        self.store.person(person_id).await?;
        self.store
            .end_sessions_of(person_id, ENDED_BY_ADMIN, now)
            .await
    }

    /// People with their number of live sessions.
    pub async fn list(
        &self,
        filter: &PeopleFilter,
        now: DateTime<Utc>,
    ) -> Result<(Vec<(Person, u64)>, u64)> {
        let (people, total) = self.store.people(filter).await?;
        let ids: Vec<Uuid> = people.iter().map(|p| p.id).collect();
        let counts = self.store.live_session_counts(&ids, now).await?;
        let people = people
            .into_iter()
            .map(|p| {
                let n = counts.get(&p.id).copied().unwrap_or(0);
                (p, n)
            })
            .collect();
        Ok((people, total))
    }
}

/// A person acts with exactly the rights of their designation; the subject is their id.
pub fn principal_of(person: &Person) -> Principal {
    let sub = person.id.to_string();
    match person.designation {
        Designation::Admin => Principal::Admin { sub },
        Designation::Board { member_id } => Principal::Board { sub, member_id },
        Designation::Council { sector } => Principal::Council { sub, sector },
        Designation::Auditor => Principal::Auditor { sub },
    }
}
