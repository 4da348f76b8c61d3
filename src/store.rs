//! Storage: the only module that speaks sea-orm. It maps rows to domain types and
//! keeps every multi-row change in one transaction.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectOptions, ConnectionTrait, Database,
    DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

use entity::{log_entry, member, member_key};
use migration::{Migrator, MigratorTrait};

use crate::config::StorageConfig;
use crate::domain::member::{
    BgNumber, ChamberRules, Member, MemberName, MemberStatus, Sector, SectorPupils,
};
use crate::error::{Error, Result};

/// The database and the lock that makes appends to the entry sequence one at a time.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Serialises writers in this process: SQLite allows one writer anyway, and the
    /// entry sequence must stay dense. PostgreSQL additionally takes an advisory lock,
    /// so several processes on one database stay correct.
    write_lock: Arc<Mutex<()>>,
}

/// A write transaction holding the write lock until it commits or is dropped.
pub struct WriteTxn<'a> {
    pub txn: DatabaseTransaction,
    _guard: MutexGuard<'a, ()>,
}

impl WriteTxn<'_> {
    pub async fn commit(self) -> Result<()> {
        self.txn.commit().await?;
        Ok(())
    }
}

/// Arbitrary but fixed: the PostgreSQL advisory lock id for appending entries.
const APPEND_LOCK_ID: i64 = 0x006d_616e_6461_6174;

impl Store {
    /// Connects to PostgreSQL when a URL is configured, else to the embedded SQLite
    /// database in the data directory, and runs the migrations.
    pub async fn open(storage: &StorageConfig) -> Result<Self, anyhow::Error> {
        std::fs::create_dir_all(&storage.data_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create data directory {}: {e}",
                storage.data_dir.display()
            )
        })?;
        let url = match &storage.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", storage.sqlite_path().display()),
        };
        let mut options = ConnectOptions::new(url.clone());
        options
            .connect_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        let db = Database::connect(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
        if db.get_database_backend() == DbBackend::Sqlite {
            // WAL lets readers go on while one writer appends.
            db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;")
                .await?;
        }
        Migrator::up(&db, None)
            .await
            .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        Ok(Store {
            db,
            write_lock: Arc::new(Mutex::new(())),
        })
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await?;
        Ok(())
    }

    pub async fn close(self) -> Result<()> {
        self.db.close().await?;
        Ok(())
    }

    pub async fn write(&self) -> Result<WriteTxn<'_>> {
        let guard = self.write_lock.lock().await;
        let txn = self.db.begin().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({APPEND_LOCK_ID})"))
                .await?;
        }
        Ok(WriteTxn { txn, _guard: guard })
    }

    // ---- members ----

    pub async fn member(&self, id: Uuid) -> Result<Member> {
        member_by_id(&self.db, id).await
    }

    pub async fn members(&self, filter: &MemberFilter) -> Result<(Vec<Member>, u64)> {
        let mut query = member::Entity::find();
        if let Some(sector) = filter.sector {
            query = query.filter(match sector {
                Sector::Po => member::Column::PupilsPo.is_not_null(),
                Sector::Vo => member::Column::PupilsVo.is_not_null(),
            });
        }
        if let Some(bg) = filter.bg_number {
            query = query.filter(member::Column::BgNumber.eq(i64::from(bg.get())));
        }
        if let Some(chamber) = &filter.chamber {
            query = query.filter(member::Column::Chamber.eq(chamber.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(member::Column::Status.eq(status.as_str()));
        }
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_asc(member::Column::BgNumber)
            .offset(filter.offset)
            .limit(filter.limit)
            .all(&self.db)
            .await?;
        let members = rows.into_iter().map(to_member).collect::<Result<_>>()?;
        Ok((members, total))
    }

    pub async fn member_by_bg_number(&self, bg: BgNumber) -> Result<Option<Member>> {
        member::Entity::find()
            .filter(member::Column::BgNumber.eq(i64::from(bg.get())))
            .one(&self.db)
            .await?
            .map(to_member)
            .transpose()
    }

    pub async fn insert_member(&self, new: &Member) -> Result<Member> {
        let write = self.write().await?;
        if member::Entity::find()
            .filter(member::Column::BgNumber.eq(i64::from(new.bg_number.get())))
            .one(&write.txn)
            .await?
            .is_some()
        {
            return Err(Error::conflict(
                crate::error::ConflictKind::DuplicateBgNumber,
                format!(
                    "a member with bevoegd-gezag number {} already exists",
                    new.bg_number
                ),
            ));
        }
        let row = to_active(new).insert(&write.txn).await?;
        write.commit().await?;
        to_member(row)
    }

    pub async fn update_member(&self, changed: &Member) -> Result<Member> {
        let write = self.write().await?;
        let mut active = to_active(changed);
        active.created_at = sea_orm::ActiveValue::Unchanged(changed.created_at);
        active.id = sea_orm::ActiveValue::Unchanged(changed.id);
        let row = active.update(&write.txn).await?;
        write.commit().await?;
        to_member(row)
    }

    /// Writes a batch of created and changed members in one transaction: an import
    /// lands whole or not at all.
    pub async fn save_members(&self, created: &[Member], changed: &[Member]) -> Result<()> {
        let write = self.write().await?;
        for chunk in created.chunks(500) {
            member::Entity::insert_many(chunk.iter().map(to_active))
                .exec(&write.txn)
                .await?;
        }
        for m in changed {
            let mut active = to_active(m);
            active.created_at = sea_orm::ActiveValue::Unchanged(m.created_at);
            active.id = sea_orm::ActiveValue::Unchanged(m.id);
            active.update(&write.txn).await?;
        }
        write.commit().await
    }

    /// All members, for imports and chamber recomputation (a few thousand at most).
    pub async fn all_members(&self) -> Result<Vec<Member>> {
        member::Entity::find()
            .order_by_asc(member::Column::BgNumber)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_member)
            .collect()
    }

    /// Re-derives every member's chamber under the configured rules, so a changed
    /// rule file takes effect at the next start. Returns how many changed.
    pub async fn recompute_chambers(
        &self,
        rules: &ChamberRules,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let members = self.all_members().await?;
        let changed: Vec<Member> = members
            .into_iter()
            .filter_map(|mut m| {
                let chamber = rules.chamber_for(&m.pupils).to_owned();
                (chamber != m.chamber).then(|| {
                    m.chamber = chamber;
                    m.updated_at = now;
                    m
                })
            })
            .collect();
        if !changed.is_empty() {
            self.save_members(&[], &changed).await?;
        }
        Ok(changed.len())
    }

    // ---- member keys ----

    pub async fn member_keys(&self, member_id: Uuid) -> Result<Vec<member_key::Model>> {
        Ok(member_key::Entity::find()
            .filter(member_key::Column::MemberId.eq(member_id))
            .order_by_asc(member_key::Column::RegisteredAt)
            .order_by_asc(member_key::Column::KeyId)
            .all(&self.db)
            .await?)
    }

    pub async fn member_key(&self, key_id: &str) -> Result<Option<member_key::Model>> {
        Ok(member_key::Entity::find_by_id(key_id).one(&self.db).await?)
    }
}

/// Filters and page of a member list.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub bg_number: Option<BgNumber>,
    pub sector: Option<Sector>,
    pub chamber: Option<String>,
    pub status: Option<MemberStatus>,
    pub limit: u64,
    pub offset: u64,
}

/// A statement to append to the entry sequence.
pub struct NewEntry<'a> {
    pub entry_type: &'a str,
    pub statement: &'a [u8],
    pub key_id: Option<String>,
    pub signature: Option<Vec<u8>>,
    pub member_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
}

/// Appends one entry at the next index. Must run inside [`Store::write`], which
/// guarantees no other append runs concurrently, so indexes stay dense.
pub async fn append_entry(txn: &DatabaseTransaction, entry: NewEntry<'_>) -> Result<i64> {
    let last: Option<Option<i64>> = log_entry::Entity::find()
        .select_only()
        .column_as(Expr::col(log_entry::Column::Idx).max(), "max_idx")
        .into_tuple()
        .one(txn)
        .await?;
    let idx = last.flatten().map_or(0, |i| i + 1);
    log_entry::ActiveModel {
        idx: Set(idx),
        entry_type: Set(entry.entry_type.to_owned()),
        statement: Set(entry.statement.to_vec()),
        key_id: Set(entry.key_id),
        signature: Set(entry.signature),
        member_id: Set(entry.member_id),
        recorded_at: Set(entry.recorded_at),
    }
    .insert(txn)
    .await?;
    Ok(idx)
}

pub async fn member_by_id<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Member> {
    member::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(to_member)
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("member {id}")))
}

fn to_active(m: &Member) -> member::ActiveModel {
    member::ActiveModel {
        id: Set(m.id),
        bg_number: Set(i64::from(m.bg_number.get())),
        name: Set(m.name.as_str().to_owned()),
        pupils_po: Set(m.pupils.po().map(to_i64)),
        pupils_vo: Set(m.pupils.vo().map(to_i64)),
        chamber: Set(m.chamber.clone()),
        status: Set(m.status.as_str().to_owned()),
        created_at: Set(m.created_at),
        updated_at: Set(m.updated_at),
    }
}

fn to_i64(n: u64) -> i64 {
    // SectorPupils caps counts far below i64::MAX.
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_member(row: member::Model) -> Result<Member> {
    let corrupt = |what: &str| Error::Corrupt(format!("member {}: {what}", row.id));
    let count = |n: Option<i64>| {
        n.map(u64::try_from)
            .transpose()
            .map_err(|_| corrupt("negative pupils"))
    };
    Ok(Member {
        id: row.id,
        bg_number: BgNumber::new(row.bg_number).map_err(|e| corrupt(&e.to_string()))?,
        name: MemberName::new(&row.name).map_err(|e| corrupt(&e.to_string()))?,
        pupils: SectorPupils::new(count(row.pupils_po)?, count(row.pupils_vo)?)
            .map_err(|e| corrupt(&e.to_string()))?,
        status: row
            .status
            .parse()
            .map_err(|e: crate::domain::member::MemberError| corrupt(&e.to_string()))?,
        chamber: row.chamber.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
