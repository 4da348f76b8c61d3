//! The BRIN → board map (`schools`): replaced by `members import` from DUO's files, read
//! to suggest a board when someone signs in with their school's account.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sea_orm::{
    ActiveModelTrait, ActiveValue, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait,
    QueryFilter,
};
use uuid::Uuid;

use entity::{member, school};

use super::{Store, write_members};
use crate::domain::member::{BgNumber, Member, MemberName, Sector};
use crate::domain::school::{Brin, School};
use crate::error::{Error, Result};

/// A school and its board, as a sign-in request shows them ("suggested board").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolBoard {
    pub brin: Brin,
    /// The school's name (not the board's).
    pub school_name: String,
    pub sector: Sector,
    pub bg_number: BgNumber,
    /// The board with that number in the register, when it is there.
    pub member: Option<RegisteredBoard>,
}

/// A board in the register (the `members` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredBoard {
    pub id: Uuid,
    pub name: MemberName,
}

/// The schools an import read: the stored map of `sectors` becomes `schools`.
#[derive(Debug, Clone, Copy)]
pub struct SchoolList<'a> {
    /// The sectors whose school lists were read; stored schools of other sectors stay.
    pub sectors: &'a BTreeSet<Sector>,
    pub schools: &'a BTreeMap<Brin, School>,
}

/// What an import changed in the stored map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchoolChanges {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
}

impl Store {
    /// The school with this BRIN and its board, with the board's entry in the register
    /// if it has one; None for a BRIN DUO's imported files do not list.
    pub async fn board_for_school(&self, brin: &Brin) -> Result<Option<SchoolBoard>> {
        let Some(row) = school::Entity::find_by_id(brin.as_str())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let corrupt = |what: String| Error::Corrupt(format!("school {}: {what}", row.brin));
        let bg_number = BgNumber::new(row.bg_number).map_err(|e| corrupt(e.to_string()))?;
        let sector = row
            .sector
            .parse::<Sector>()
            .map_err(|e| corrupt(e.to_string()))?;
        let member = match member::Entity::find()
            .filter(member::Column::BgNumber.eq(row.bg_number))
            .one(&self.db)
            .await?
        {
            None => None,
            Some(m) => Some(RegisteredBoard {
                id: m.id,
                name: MemberName::new(&m.name)
                    .map_err(|e| Error::Corrupt(format!("member {}: {e}", m.id)))?,
            }),
        };
        Ok(Some(SchoolBoard {
            brin: brin.clone(),
            school_name: row.name,
            sector,
            bg_number,
            member,
        }))
    }

    /// Writes an import in one transaction: the boards created and changed, and the
    /// school map of the sectors it read replaced by what it read. All or nothing.
    pub async fn save_import(
        &self,
        created: &[Member],
        changed: &[Member],
        schools: SchoolList<'_>,
    ) -> Result<SchoolChanges> {
        let write = self.write().await?;
        write_members(&write.txn, created, changed).await?;
        let changes = replace_schools(&write.txn, schools).await?;
        write.commit().await?;
        Ok(changes)
    }
}

/// Makes the stored schools of `list.sectors` equal to `list.schools`, writing only the
/// differences. A BRIN now listed in another sector moves to it.
async fn replace_schools(txn: &DatabaseTransaction, list: SchoolList<'_>) -> Result<SchoolChanges> {
    let stored: HashMap<String, school::Model> = school::Entity::find()
        .all(txn)
        .await?
        .into_iter()
        .map(|row| (row.brin.clone(), row))
        .collect();
    let mut changes = SchoolChanges::default();
    let mut inserts = Vec::new();
    for school in list.schools.values() {
        let row = school::Model {
            brin: school.brin.as_str().to_owned(),
            bg_number: i64::from(school.bg_number.get()),
            name: school.name.clone(),
            sector: school.sector.as_str().to_owned(),
        };
        let active = |brin: ActiveValue<String>| school::ActiveModel {
            brin,
            bg_number: Set(row.bg_number),
            name: Set(row.name.clone()),
            sector: Set(row.sector.clone()),
        };
        match stored.get(&row.brin) {
            Some(old) if *old == row => changes.unchanged += 1,
            Some(_) => {
                active(ActiveValue::Unchanged(row.brin.clone()))
                    .update(txn)
                    .await?;
                changes.changed += 1;
            }
            None => inserts.push(active(Set(row.brin.clone()))),
        }
    }
    changes.added = inserts.len();
    super::insert_chunked(txn, inserts).await?;

    let listed: HashSet<&str> = list.schools.keys().map(Brin::as_str).collect();
    let sectors: Vec<&str> = list.sectors.iter().map(|s| s.as_str()).collect();
    let gone: Vec<&str> = stored
        .values()
        .filter(|row| sectors.contains(&row.sector.as_str()) && !listed.contains(row.brin.as_str()))
        .map(|row| row.brin.as_str())
        .collect();
    changes.removed = gone.len();
    for chunk in gone.chunks(500) {
        school::Entity::delete_many()
            .filter(school::Column::Brin.is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
    }
    Ok(changes)
}
