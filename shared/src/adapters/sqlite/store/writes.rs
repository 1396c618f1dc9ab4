//! Conditional writes, transactions and additions: each write's condition is checked against
//! the stored row inside one immediate transaction, so a refused write (or transaction) changes
//! nothing, and an addition reads and writes its row in one too, with no other write between.

use rusqlite::{Connection, Transaction, TransactionBehavior};
use serde_json::Value;

use crate::model::error::{Error, Result};
use crate::ports::store::{Addition, Condition, Document, Outcome, Write, sortable_time};

use super::rows::{StoredRow, delete_row, put_row, record_body, sql_error, stored_row};

/// Applies `writes` in order, all or none: the first whose condition fails rolls back the rest.
pub(super) fn apply_all(conn: &Connection, writes: &[Write]) -> Result<Outcome> {
    let transaction = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(sql_error("sqlite: starting a transaction"))?;
    for (item, write) in writes.iter().enumerate() {
        if !holds(write.condition(), stored_row(&transaction, write.key())?.as_ref())? {
            return Ok(Outcome::Refused { item });
        }
        match write {
            Write::Put(document, _) => put_row(&transaction, document)?,
            Write::Delete(key, _) => delete_row(&transaction, key)?,
        }
    }
    transaction.commit().map_err(sql_error("sqlite: committing a transaction"))?;
    Ok(Outcome::Written)
}

/// Whether `condition` holds of the row stored under a write's key (`None`: no row).
fn holds(condition: Condition, stored: Option<&StoredRow>) -> Result<bool> {
    Ok(match condition {
        Condition::Always => true,
        Condition::Absent => stored.is_none(),
        Condition::Present => stored.is_some(),
        Condition::Version(expected) => stored.is_some_and(|row| row.version == Some(expected)),
        Condition::AbsentOrExpiredBy(now) => {
            let now = sortable_time(now)?;
            stored.is_none_or(|row| row.valid_until.as_ref().is_some_and(|until| *until <= now))
        }
        Condition::InFirstIndex => stored.is_some_and(|row| row.in_first_index),
    })
}

/// Stores `document` with `additions` added to the stored fields, in one immediate transaction.
pub(super) fn add(conn: &Connection, document: &Document, additions: &[Addition]) -> Result<()> {
    let transaction = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(sql_error("sqlite: starting an addition"))?;
    let stored = record_body(&transaction, &document.key)?;
    let mut added = document.clone();
    let Value::Object(fields) = &mut added.body else {
        return Err(Error::Internal(format!("sqlite: a {} to add to is not an object", document.key.kind.name())));
    };
    for addition in additions {
        let before = stored.as_ref().and_then(|body| body.get(addition.field)).and_then(Value::as_i64).unwrap_or(0);
        fields.insert(addition.field.to_string(), Value::from(before + addition.amount));
    }
    put_row(&transaction, &added)?;
    transaction.commit().map_err(sql_error("sqlite: committing an addition"))
}
