//! Migrations and entities cannot drift apart: the tables the migrations build on a
//! fresh database have exactly the columns (names, nullability, primary key) that the
//! entities declare, on SQLite and on PostgreSQL.

use std::collections::BTreeMap;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, EntityTrait, Schema, Statement,
};

use crate::helpers::TestDatabase;

/// Column name → (nullable, part of the primary key).
type Columns = BTreeMap<String, (bool, bool)>;

async fn connect(db: &TestDatabase, dir: &tempfile::TempDir) -> DatabaseConnection {
    let url = match db.url() {
        Some(url) => url.to_owned(),
        None => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        ),
    };
    Database::connect(url).await.unwrap()
}

async fn columns(db: &DatabaseConnection, table: &str) -> Columns {
    let backend = db.get_database_backend();
    let rows = match backend {
        DbBackend::Sqlite => {
            db.query_all_raw(Statement::from_string(
                backend,
                format!("SELECT name, \"notnull\", pk FROM pragma_table_info('{table}')"),
            ))
            .await
        }
        _ => {
            db.query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT c.column_name AS name,
                        CASE WHEN c.is_nullable = 'NO' THEN 1 ELSE 0 END AS notnull,
                        CASE WHEN k.column_name IS NULL THEN 0 ELSE 1 END AS pk
                 FROM information_schema.columns c
                 LEFT JOIN information_schema.table_constraints t
                   ON t.table_name = c.table_name AND t.constraint_type = 'PRIMARY KEY'
                  AND t.table_schema = c.table_schema
                 LEFT JOIN information_schema.key_column_usage k
                   ON k.constraint_name = t.constraint_name AND k.column_name = c.column_name
                  AND k.table_schema = c.table_schema
                 WHERE c.table_name = $1 AND c.table_schema = current_schema()",
                [table.into()],
            ))
            .await
        }
    }
    .unwrap();
    rows.into_iter()
        .map(|row| {
            let name: String = row.try_get("", "name").unwrap();
            let not_null: i32 = row.try_get("", "notnull").unwrap();
            let pk: i32 = row.try_get("", "pk").unwrap();
            (name, (not_null == 0, pk != 0))
        })
        .collect()
}

async fn compare<E: EntityTrait + Default>(
    migrated: &DatabaseConnection,
    declared: &DatabaseConnection,
    drift: &mut Vec<String>,
) {
    let entity = E::default();
    let table = entity.table_name().to_owned();
    let schema = Schema::new(declared.get_database_backend());
    declared
        .execute(&schema.create_table_from_entity(entity))
        .await
        .unwrap();
    let (from_migrations, from_entity) = (
        columns(migrated, &table).await,
        columns(declared, &table).await,
    );
    assert!(!from_entity.is_empty(), "{table}: no columns read");
    if from_migrations != from_entity {
        drift.push(format!(
            "{table}:\n  migrations {from_migrations:?}\n  entity     {from_entity:?}"
        ));
    }
}

#[tokio::test]
async fn migrations_build_exactly_the_tables_the_entities_declare() {
    let (migrated_db, declared_db) = (TestDatabase::new().await, TestDatabase::new().await);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let migrated = connect(&migrated_db, &dir_a).await;
    let declared = connect(&declared_db, &dir_b).await;
    Migrator::up(&migrated, None).await.unwrap();

    let mut drift = Vec::new();
    compare::<entity::member::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::member_key::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::membership::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::log_entry::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::checkpoint::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::server_key::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::proposal::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::ballot::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::nonce::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::proxy::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::person::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::invitation::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::session::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::api_token::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::account::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::sign_in_request::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::sign_in_flow::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::school::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::webhook_subscription::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::webhook_event::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::webhook_delivery::Entity>(&migrated, &declared, &mut drift).await;
    compare::<entity::webhook_attempt::Entity>(&migrated, &declared, &mut drift).await;
    assert!(drift.is_empty(), "{}", drift.join("\n"));

    // Every table the migrations made (bar their own bookkeeping) has an entity.
    let sql = match migrated.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        _ => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = current_schema()"
        }
    };
    let mut tables: Vec<String> = migrated
        .query_all_raw(Statement::from_string(migrated.get_database_backend(), sql))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .filter(|t| t != "seaql_migrations")
        .collect();
    tables.sort();
    assert_eq!(
        tables,
        [
            "accounts",
            "api_tokens",
            "ballots",
            "checkpoints",
            "invitations",
            "log_entries",
            "member_keys",
            "members",
            "memberships",
            "nonces",
            "people",
            "proposals",
            "proxies",
            "schools",
            "server_keys",
            "sessions",
            "sign_in_flows",
            "sign_in_requests",
            "webhook_attempts",
            "webhook_deliveries",
            "webhook_events",
            "webhook_subscriptions"
        ]
    );
}
