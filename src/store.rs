//! Storage: the connection, members and keys, and the append-only entry log with its
//! checkpoints; the voting and log services query their own tables directly. It maps
//! rows to domain types and keeps every multi-row change in one transaction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectOptions, ConnectionTrait, Database,
    DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

use entity::{checkpoint, log_entry, member, member_key};
use migration::{Migrator, MigratorTrait};

mod api_tokens;
mod db_error;
mod membership;
mod people;
mod rows;
mod schools;
mod sign_in;
mod voting;
mod webhooks;

pub use membership::{PeriodRow, Periods};
pub use rows::{CheckpointRow, KeyRow, LogEntryRow};
pub use schools::{RegisteredBoard, SchoolBoard, SchoolChanges, SchoolList};
pub use voting::{BallotRow, BatchWants, ProposalRow, ProxyRow};
pub use webhooks::{
    AfterAttempt, AttemptResult, AttemptRow, DeliveryRecord, QueuedDelivery, Subscription,
};

pub use api_tokens::{NewApiToken, StoredApiToken};
pub use people::{NewInvitation, NewSession, PeopleFilter, StoredInvitation, StoredSession};
pub use sign_in::{NewAccount, SignInFlow, StoredAccount, StoredSignInRequest};

use crate::config::StorageConfig;
use crate::domain::member::{
    BgNumber, ChamberRules, Member, MemberName, MemberStatus, Sector, SectorPupils,
};
use crate::domain::statement::SignedStatement;
use crate::error::{Error, Result};
use crate::transparency::LogIndex;
use crate::transparency::checkpoint::Checkpoint;
use crate::transparency::merkle::{Hash, MerkleTree, leaf_hash};
use crate::transparency::note::NoteSigner;

/// The database, the Merkle tree over its entries, and the lock that makes appends to
/// the entry sequence one at a time.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Serialises writers in this process: SQLite allows one writer anyway, and the
    /// entry sequence must stay dense. PostgreSQL additionally takes an advisory lock.
    write_lock: Arc<Mutex<()>>,
    /// Leaf hashes of every committed entry, as recorded when each was accepted.
    tree: Arc<RwLock<MerkleTree>>,
    /// Why the stored log cannot be trusted, if it cannot (entries missing, or not
    /// matching a checkpoint this server signed). `serve` refuses to start on it.
    log_problem: Option<String>,
    /// Set by the server: signs a checkpoint with every commit that appends entries.
    checkpointer: Arc<OnceLock<Checkpointer>>,
    /// The latest checkpoint this process signed.
    latest: Arc<std::sync::Mutex<Option<SignedCheckpoint>>>,
    /// Set when a commit that appended entries reported an error: the connection may
    /// have broken after the database committed, leaving entries stored that the tree
    /// lacks. The next writer (or checkpoint) reads them back before using the tree.
    unsure: Arc<AtomicBool>,
    /// When a writer last found the database unreachable. Writers queued behind it
    /// give up at once instead of each waiting out the database timeout in turn.
    unreachable_at: Arc<std::sync::Mutex<Option<Instant>>>,
    /// Tells the webhook worker that an event committed (see `WriteTxn::enqueue_event`).
    outbox: Arc<tokio::sync::Notify>,
}

/// The log's signing identity, as the store needs it.
pub struct Checkpointer {
    pub signer: NoteSigner,
    pub origin: String,
}

impl Checkpointer {
    fn sign(&self, size: u64, root: Hash) -> Result<SignedCheckpoint> {
        let text = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
        }
        .to_text();
        let note = self
            .signer
            .sign(&text)
            .map_err(|e| Error::Corrupt(format!("signing a checkpoint: {e}")))?;
        Ok(SignedCheckpoint { size, root, note })
    }
}

/// A write transaction holding the write lock until it commits or is dropped. Entries
/// it appends join the Merkle tree only when it commits.
pub struct WriteTxn<'a> {
    txn: DatabaseTransaction,
    store: &'a Store,
    /// The log's size when this transaction began (after catching up): no other
    /// writer can append until it ends.
    base: u64,
    pending: Vec<Hash>,
    /// Whether it put a webhook event in the outbox.
    announced: bool,
    _guard: MutexGuard<'a, ()>,
}

/// A statement to append to the entry sequence.
pub struct NewEntry<'a> {
    pub statement: &'a SignedStatement,
    pub member_id: Option<Uuid>,
    pub proposal_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
}

impl<'a> NewEntry<'a> {
    /// A statement a member signed (or one the server signed about a member).
    pub fn by_member(
        statement: &'a SignedStatement,
        member: Uuid,
        proposal: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Self {
        NewEntry {
            statement,
            member_id: Some(member),
            proposal_id: proposal,
            recorded_at: at,
        }
    }

    /// A statement the server signed about a proposal.
    pub fn by_server(
        statement: &'a SignedStatement,
        proposal: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Self {
        NewEntry {
            statement,
            member_id: None,
            proposal_id: proposal,
            recorded_at: at,
        }
    }
}

impl WriteTxn<'_> {
    /// The log's size when this transaction began.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Appends one entry at the next index and returns the index.
    pub async fn append(&mut self, entry: NewEntry<'_>) -> Result<LogIndex> {
        let first = self.append_many(std::slice::from_ref(&entry)).await?;
        Ok(first)
    }

    /// Appends entries at the next indexes, in order, with multi-row inserts, and
    /// returns the index of the first (the rest follow it).
    pub async fn append_many(&mut self, entries: &[NewEntry<'_>]) -> Result<LogIndex> {
        let first = LogIndex::new(self.base + self.pending.len() as u64)?;
        let mut rows = Vec::with_capacity(entries.len());
        let mut leaves = Vec::with_capacity(entries.len());
        for (offset, entry) in entries.iter().enumerate() {
            let index = LogIndex::new(first.get() + offset as u64)?;
            let leaf = leaf_hash(&entry.statement.entry_bytes());
            rows.push(log_entry::ActiveModel {
                idx: Set(index.stored()),
                entry_type: Set(entry.statement.statement_type().to_owned()),
                statement: Set(entry.statement.bytes().to_vec()),
                key_id: Set(entry.statement.key_id().to_string()),
                signature: Set(entry.statement.signature().to_bytes().to_vec()),
                leaf_hash: Set(hex::encode(leaf)),
                member_id: Set(entry.member_id),
                proposal_id: Set(entry.proposal_id),
                recorded_at: Set(entry.recorded_at),
            });
            leaves.push(leaf);
        }
        insert_chunked(&self.txn, rows).await?;
        self.pending.extend(leaves);
        Ok(first)
    }

    /// Commits. When entries were appended and this process signs checkpoints, the
    /// checkpoint covering them is signed and stored in the same transaction, so every
    /// accepted entry is covered at once at the cost of one commit. It is published
    /// (cached, then handed out in receipts) only after the commit succeeded, and
    /// returned, so the receipts of this transaction's entries need no second lock.
    pub async fn commit(self) -> Result<Option<SignedCheckpoint>> {
        let WriteTxn {
            txn,
            store,
            base,
            pending,
            announced,
            _guard,
        } = self;
        let signed = match store.checkpointer.get() {
            Some(checkpointer) if !pending.is_empty() => {
                let (size, root) = {
                    let tree = store.tree()?;
                    if tree.size() != base {
                        return Err(Error::Corrupt(format!(
                            "the log grew from {base} to {} during a write transaction",
                            tree.size()
                        )));
                    }
                    (base + pending.len() as u64, tree.root_with(&pending))
                };
                let signed = checkpointer.sign(size, root)?;
                signed.insert(&txn, Utc::now()).await?;
                Some(signed)
            }
            _ => None,
        };
        if let Err(e) = txn.commit().await {
            if !pending.is_empty() {
                store.unsure.store(true, Ordering::SeqCst);
            }
            return Err(store.noting_unreachable(e.into()));
        }
        store.absorb(base, pending)?;
        if let Some(signed) = &signed {
            store.remember(signed.clone());
        }
        if announced {
            store.outbox.notify_one();
        }
        Ok(signed)
    }
}

/// Inserts rows in statements of at most 500 rows: far below SQLite's and
/// PostgreSQL's limits on bound values, and one round trip per 500.
async fn insert_chunked<A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<()>
where
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(500).collect();
        A::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Connections to the embedded SQLite database: one writes at a time, the others
/// serve readers meanwhile.
const SQLITE_CONNECTIONS: u32 = 4;

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
        // sqlx retries a refused connection until this deadline, then reports a pool
        // timeout: a request waits at most this long for an unreachable database.
        // SQLite waits as long for a lock another process holds on the file.
        let timeout = storage.database_timeout;
        options
            .connect_timeout(timeout)
            .acquire_timeout(timeout)
            // A ping per acquire is a round trip before every transaction; only a
            // connection idle for a while is tested (a broken busy one fails its query).
            .test_before_acquire_if_idle_for(std::time::Duration::from_secs(10))
            .map_sqlx_sqlite_opts(move |sqlite| {
                // Set on every connection: WAL lets readers go on while one writer
                // appends; the foreign keys hold on every connection, not the first.
                sqlite
                    .busy_timeout(timeout)
                    .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .foreign_keys(true)
            })
            .sqlx_logging(false);
        if storage.database_url.is_none() {
            // sea-orm gives SQLite a single connection unless told otherwise: every
            // read then waits for every write, and each request waits for the one
            // before it to hand the connection back. Writers still take turns
            // (`BEGIN IMMEDIATE`, see `begin_writing`); readers run beside them.
            options.max_connections(SQLITE_CONNECTIONS);
        }
        let db = Database::connect(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
        Migrator::up(&db, None)
            .await
            .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        let (tree, log_problem) = load_tree(&db).await?;
        Ok(Store {
            db,
            write_lock: Arc::new(Mutex::new(())),
            tree: Arc::new(RwLock::new(tree)),
            log_problem,
            checkpointer: Arc::new(OnceLock::new()),
            latest: Arc::new(std::sync::Mutex::new(None)),
            unsure: Arc::new(AtomicBool::new(false)),
            unreachable_at: Arc::new(std::sync::Mutex::new(None)),
            outbox: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Makes every commit that appends entries also sign a checkpoint (the server).
    pub fn sign_checkpoints_with(&self, checkpointer: Checkpointer) {
        // Set once at startup; a second call keeps the first identity.
        let _ = self.checkpointer.set(checkpointer);
    }

    fn remember(&self, signed: SignedCheckpoint) {
        if let Ok(mut latest) = self.latest.lock() {
            *latest = Some(signed);
        }
    }

    fn remembered(&self, size: u64) -> Option<SignedCheckpoint> {
        self.latest
            .lock()
            .ok()?
            .as_ref()
            .filter(|c| c.size == size)
            .cloned()
    }

    /// Why the stored log is not what this server signed, if it is not.
    pub fn log_problem(&self) -> Option<&str> {
        self.log_problem.as_deref()
    }

    pub fn tree(&self) -> Result<std::sync::RwLockReadGuard<'_, MerkleTree>> {
        self.tree
            .read()
            .map_err(|_| Error::Corrupt("the log's tree lock is poisoned".into()))
    }

    pub fn tree_size(&self) -> Result<u64> {
        Ok(self.tree()?.size())
    }

    /// A signed checkpoint of the log as it is now (entries appended by other servers
    /// included). Every commit that appends signs one, so this is nearly always the
    /// latest stored checkpoint; otherwise (entries appended by a process that signs
    /// none) one is signed under the append locks, where no append can slip in.
    pub async fn sign_checkpoint(&self, now: DateTime<Utc>) -> Result<SignedCheckpoint> {
        let checkpointer = self
            .checkpointer
            .get()
            .ok_or_else(|| Error::Corrupt("this process does not sign checkpoints".into()))?;
        self.refresh().await?;
        if let Some(signed) = self.covering(&self.db).await? {
            return Ok(signed);
        }
        let write = self.write().await?;
        if let Some(signed) = self.covering(&write.txn).await? {
            return Ok(signed);
        }
        let (size, root) = {
            let tree = self.tree()?;
            (tree.size(), tree.root())
        };
        if let Some(latest) = latest_checkpoint(&write.txn).await? {
            let latest_size = u64::try_from(latest.size).map_err(|_| {
                Error::Corrupt(format!("stored checkpoint has size {}", latest.size))
            })?;
            // Never sign a checkpoint that a consistency proof could not join to the last.
            let consistent = latest_size <= size
                && self
                    .tree()?
                    .root_at(latest_size)
                    .is_ok_and(|r| hex::encode(r) == latest.root_hash);
            if !consistent {
                return Err(Error::Corrupt(format!(
                    "the log no longer extends the checkpoint of size {latest_size}; refusing to sign"
                )));
            }
        }
        let signed = checkpointer.sign(size, root)?;
        signed.insert(&write.txn, now).await?;
        write.commit().await?;
        self.remember(signed.clone());
        Ok(signed)
    }

    /// The checkpoint already signed for the tree as this process has it, if any.
    async fn covering<C: ConnectionTrait>(&self, db: &C) -> Result<Option<SignedCheckpoint>> {
        let (size, root) = {
            let tree = self.tree()?;
            (tree.size(), tree.root())
        };
        if let Some(signed) = self.remembered(size) {
            return Ok(Some(signed));
        }
        let Some(latest) = latest_checkpoint(db).await? else {
            return Ok(None);
        };
        if latest.size != to_idx(size)? || latest.root_hash != hex::encode(root) {
            return Ok(None);
        }
        let signed = SignedCheckpoint {
            size,
            root,
            note: latest.note,
        };
        self.remember(signed.clone());
        Ok(Some(signed))
    }

    /// The latest checkpoint the server signed, if any.
    pub async fn latest_checkpoint(&self) -> Result<Option<CheckpointRow>> {
        latest_checkpoint(&self.db).await
    }

    /// Entries `[start, end)` in index order.
    pub async fn entries(&self, start: u64, end: u64) -> Result<Vec<LogEntryRow>> {
        let (start, end) = (to_idx(start)?, to_idx(end)?);
        log_entry::Entity::find()
            .filter(log_entry::Column::Idx.gte(start))
            .filter(log_entry::Column::Idx.lt(end))
            .order_by_asc(log_entry::Column::Idx)
            .all(&self.db)
            .await?
            .into_iter()
            .map(LogEntryRow::try_from)
            .collect()
    }

    pub async fn entry_by_leaf_hash(&self, leaf_hash: &str) -> Result<Option<LogEntryRow>> {
        log_entry::Entity::find()
            .filter(log_entry::Column::LeafHash.eq(leaf_hash))
            .one(&self.db)
            .await?
            .map(LogEntryRow::try_from)
            .transpose()
    }

    /// The database pool's connections in use and idle, when the driver is sqlx's.
    pub fn pool_connections(&self) -> Option<(usize, usize)> {
        let db = &self.db;
        use sea_orm::DatabaseConnectionType as T;
        let (size, idle) = match &db.inner {
            T::SqlxSqlitePoolConnection(_) => {
                let pool = db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            T::SqlxPostgresPoolConnection(_) => {
                let pool = db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => return None,
        };
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        Some((size.saturating_sub(idle), idle))
    }

    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await?;
        Ok(())
    }

    /// Folds SQLite's write-ahead log into the database file and closes the pool, so
    /// the file alone holds everything (before it is moved).
    pub async fn close_sqlite(&self) -> Result<()> {
        self.db
            .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
        self.db.close_by_ref().await?;
        Ok(())
    }

    pub async fn close(self) -> Result<()> {
        self.db.close().await?;
        Ok(())
    }

    /// Begins a transaction that writes. On SQLite it takes the database's write
    /// lock at once (`BEGIN IMMEDIATE`), waiting up to the busy timeout for another
    /// connection's writer: a deferred transaction that has read first cannot wait
    /// when it comes to write after another connection committed, it fails at once.
    async fn begin_writing(&self) -> Result<DatabaseTransaction, sea_orm::DbErr> {
        self.db
            .begin_with_options(sea_orm::TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
    }

    pub async fn write(&self) -> Result<WriteTxn<'_>> {
        let queued = Instant::now();
        let guard = self.write_lock.lock().await;
        let gave_up = self
            .unreachable_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| at > queued);
        if gave_up {
            return Err(Error::Unavailable(
                "the writer before this one found the database unreachable".into(),
            ));
        }
        let txn = async {
            let txn = self.begin_writing().await?;
            if txn.get_database_backend() == DbBackend::Postgres {
                txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({APPEND_LOCK_ID})"))
                    .await?;
            }
            self.catch_up(&txn).await?;
            Ok(txn)
        }
        .await
        .map_err(|e| self.noting_unreachable(e))?;
        Ok(WriteTxn {
            txn,
            store: self,
            base: self.tree_size()?,
            pending: Vec::new(),
            announced: false,
            _guard: guard,
        })
    }

    /// Remembers when the database was found unreachable (see `write`).
    fn noting_unreachable(&self, err: Error) -> Error {
        if matches!(err, Error::Unavailable(_))
            && let Ok(mut at) = self.unreachable_at.lock()
        {
            *at = Some(Instant::now());
        }
        err
    }

    /// Adds to the tree the entries the database holds beyond it: appended by another
    /// server on the same PostgreSQL database, or committed by this one although the
    /// commit reported an error. Every write transaction does this under the append
    /// locks, so it appends after the log as the database has it, never after a stale
    /// tree; readers do it without locks (`refresh`) before answering beyond the tree.
    async fn catch_up<C: ConnectionTrait>(&self, db: &C) -> Result<()> {
        let unsure = self.unsure.load(Ordering::SeqCst);
        let size = self.tree_size()?;
        let rows: Vec<(i64, String)> = log_entry::Entity::find()
            .select_only()
            .column(log_entry::Column::Idx)
            .column(log_entry::Column::LeafHash)
            .filter(log_entry::Column::Idx.gte(to_idx(size)?))
            .order_by_asc(log_entry::Column::Idx)
            .into_tuple()
            .all(db)
            .await?;
        let found = rows.len();
        let Some(&(first, _)) = rows.first() else {
            self.unsure.store(false, Ordering::SeqCst);
            return Ok(());
        };
        let first = u64::try_from(first)
            .map_err(|_| Error::Corrupt(format!("log entry {first} has a negative index")))?;
        let mut leaves = Vec::with_capacity(found);
        for (expected, (idx, leaf)) in (first..).zip(rows) {
            let mut hash = [0u8; 32];
            if idx != to_idx(expected)? || hex::decode_to_slice(&leaf, &mut hash).is_err() {
                return Err(Error::Corrupt(format!(
                    "log entry {expected} is missing or damaged"
                )));
            }
            leaves.push(hash);
        }
        self.absorb(first, leaves)?;
        if unsure {
            tracing::warn!(
                entries = found,
                "entries whose commit reported an error were stored after all; the log's tree now includes them"
            );
            self.unsure.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Brings the tree up to the log as the database has it now, without the write
    /// lock: for answers (checkpoints, proofs, pages) that must cover what another
    /// server appended.
    pub async fn refresh(&self) -> Result<()> {
        self.catch_up(&self.db).await
    }

    /// Extends the tree with `leaves` for indexes `first..`; those it holds already
    /// (a reader caught up with a commit before the committer did) must match.
    fn absorb(&self, first: u64, leaves: Vec<Hash>) -> Result<()> {
        let mut tree = self
            .tree
            .write()
            .map_err(|_| Error::Corrupt("the log's tree lock is poisoned".into()))?;
        if first > tree.size() {
            return Err(Error::Corrupt(format!(
                "log entry {} is missing: the tree holds {}",
                first,
                tree.size()
            )));
        }
        for (index, leaf) in (first..).zip(leaves) {
            if index < tree.size() {
                if tree.leaf(index) != Some(leaf) {
                    return Err(Error::Corrupt(format!(
                        "log entry {index} differs from the one this server holds"
                    )));
                }
            } else {
                tree.push(leaf);
            }
        }
        Ok(())
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
        if let Some(name) = &filter.name {
            use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
            // LIKE is case-insensitive on SQLite only; lower() makes both agree.
            let escaped = name
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            query = query.filter(
                Expr::expr(Func::lower(Expr::col(member::Column::Name)))
                    .like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
            );
        }
        if let Some(chamber) = &filter.chamber {
            query = query.filter(member::Column::Chamber.eq(chamber.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(member::Column::Status.eq(status.as_str()));
        }
        if let Some((standing, day)) = filter.membership {
            query = query.filter(membership::standing_condition(standing, day));
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
        write_members(&write.txn, created, changed).await?;
        write.commit().await?;
        Ok(())
    }

    /// All members, for imports and chamber recomputation (a few thousand at most).
    pub async fn all_members(&self) -> Result<Vec<Member>> {
        members_ordered(&self.db).await
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

    // ---- the server's own keys ----

    /// The public key (hex) recorded for a server key's purpose, if any.
    pub async fn recorded_server_key(&self, purpose: &str) -> Result<Option<String>> {
        Ok(entity::server_key::Entity::find_by_id(purpose)
            .one(&self.db)
            .await?
            .map(|k| k.public_key))
    }

    pub async fn record_server_key(
        &self,
        purpose: &str,
        public_key: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        entity::server_key::ActiveModel {
            purpose: Set(purpose.to_owned()),
            public_key: Set(public_key.to_owned()),
            created_at: Set(now),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    // ---- member keys ----

    pub async fn member_keys(&self, member_id: Uuid) -> Result<Vec<KeyRow>> {
        member_key::Entity::find()
            .filter(member_key::Column::MemberId.eq(member_id))
            .order_by_asc(member_key::Column::RegisteredAt)
            .order_by_asc(member_key::Column::KeyId)
            .all(&self.db)
            .await?
            .into_iter()
            .map(KeyRow::try_from)
            .collect()
    }

    pub async fn member_key(&self, key_id: &str) -> Result<Option<KeyRow>> {
        member_key::Entity::find_by_id(key_id)
            .one(&self.db)
            .await?
            .map(KeyRow::try_from)
            .transpose()
    }

    /// Every key, in the order the log registered them.
    pub async fn keys_by_registration(&self) -> Result<Vec<KeyRow>> {
        member_key::Entity::find()
            .order_by_asc(member_key::Column::RegistrationEntry)
            .all(&self.db)
            .await?
            .into_iter()
            .map(KeyRow::try_from)
            .collect()
    }
}

impl WriteTxn<'_> {
    /// A key as this transaction sees it.
    pub async fn key(&self, key_id: &str) -> Result<Option<KeyRow>> {
        member_key::Entity::find_by_id(key_id)
            .one(&self.txn)
            .await?
            .map(KeyRow::try_from)
            .transpose()
    }

    pub async fn insert_key(&self, key: &KeyRow) -> Result<KeyRow> {
        rows::key_model(key).insert(&self.txn).await?.try_into()
    }

    /// Writes every column of the key (a revocation).
    pub async fn save_key(&self, key: &KeyRow) -> Result<KeyRow> {
        rows::key_model(key).update(&self.txn).await?.try_into()
    }
}

/// Writes a consistent copy of the SQLite database at `url` to `out` with `VACUUM INTO`:
/// one read transaction, so a running server keeps appending meanwhile.
pub async fn sqlite_snapshot(url: &str, out: &std::path::Path) -> anyhow::Result<()> {
    let out = out
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the backup path must be valid UTF-8"))?;
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    db.execute_unprepared(&format!("VACUUM INTO '{}'", out.replace('\'', "''")))
        .await
        .map_err(|e| anyhow::anyhow!("VACUUM INTO failed: {e}"))?;
    db.close().await.ok();
    Ok(())
}

/// Filters and page of a member list.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub bg_number: Option<BgNumber>,
    /// Part of the name, case-insensitively.
    pub name: Option<String>,
    pub sector: Option<Sector>,
    pub chamber: Option<String>,
    pub status: Option<MemberStatus>,
    /// Where boards stand in the membership register on a day.
    pub membership: Option<(crate::domain::membership::Standing, chrono::NaiveDate)>,
    pub limit: u64,
    pub offset: u64,
}

/// A checkpoint as signed: its size, root and the signed note.
#[derive(Debug, Clone)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub note: String,
}

impl SignedCheckpoint {
    async fn insert<C: ConnectionTrait>(&self, db: &C, now: DateTime<Utc>) -> Result<()> {
        checkpoint::ActiveModel {
            size: Set(to_idx(self.size)?),
            root_hash: Set(hex::encode(self.root)),
            note: Set(self.note.clone()),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
        Ok(())
    }
}

async fn latest_checkpoint<C: ConnectionTrait>(db: &C) -> Result<Option<CheckpointRow>> {
    Ok(checkpoint::Entity::find()
        .order_by_desc(checkpoint::Column::Size)
        .one(db)
        .await?
        .map(CheckpointRow::from))
}

fn to_idx(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::Validation(format!("{n} is not a log index")))
}

/// Builds the tree from the leaf hashes recorded at acceptance, and checks it against
/// the entries' indexes and the latest signed checkpoint. Problems are reported, not
/// fatal here: `audit export` must still be able to export a damaged log.
async fn load_tree(db: &DatabaseConnection) -> Result<(MerkleTree, Option<String>), anyhow::Error> {
    let rows: Vec<(i64, String)> = log_entry::Entity::find()
        .select_only()
        .column(log_entry::Column::Idx)
        .column(log_entry::Column::LeafHash)
        .order_by_asc(log_entry::Column::Idx)
        .into_tuple()
        .all(db)
        .await?;
    let mut tree = MerkleTree::new();
    let mut problem = None;
    for (expected, (idx, leaf)) in rows.into_iter().enumerate() {
        let mut hash = [0u8; 32];
        if idx != expected as i64 || hex::decode_to_slice(&leaf, &mut hash).is_err() {
            problem = Some(format!("log entry {expected} is missing or damaged"));
            break;
        }
        tree.push(hash);
    }
    if problem.is_none()
        && let Some(latest) = checkpoint::Entity::find()
            .order_by_desc(checkpoint::Column::Size)
            .one(db)
            .await?
    {
        let size = u64::try_from(latest.size).unwrap_or(u64::MAX);
        let matches = tree
            .root_at(size)
            .is_ok_and(|root| hex::encode(root) == latest.root_hash);
        if !matches {
            problem = Some(format!(
                "the stored log does not match the checkpoint of size {size} this server signed"
            ));
        }
    }
    Ok((tree, problem))
}

/// Every member by bevoegd-gezag number, on any connection (a write transaction
/// freezing a voter roll reads them this way).
async fn members_ordered<C: ConnectionTrait>(db: &C) -> Result<Vec<Member>> {
    member::Entity::find()
        .order_by_asc(member::Column::BgNumber)
        .all(db)
        .await?
        .into_iter()
        .map(to_member)
        .collect()
}

/// Inserts the created members and updates the changed ones.
async fn write_members(
    txn: &DatabaseTransaction,
    created: &[Member],
    changed: &[Member],
) -> Result<()> {
    for chunk in created.chunks(500) {
        member::Entity::insert_many(chunk.iter().map(to_active))
            .exec(txn)
            .await?;
    }
    for m in changed {
        let mut active = to_active(m);
        active.created_at = sea_orm::ActiveValue::Unchanged(m.created_at);
        active.id = sea_orm::ActiveValue::Unchanged(m.id);
        active.update(txn).await?;
    }
    Ok(())
}

async fn member_by_id<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Member> {
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
