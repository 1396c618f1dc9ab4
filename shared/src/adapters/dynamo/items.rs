//! Records as items and back: a document's body becomes the item's attributes (via
//! serde_dynamo), beside its key, its GSI keys and, for an expiring record, its TTL.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use serde_json::Value;
use time::OffsetDateTime;

use crate::model::error::{Error, Result};
use crate::ports::store::{Document, Index, IndexEntry, sortable_time};

use super::Item;
use super::table::{Key, TTL_ATTRIBUTE, VALID_UNTIL, index_name};

/// The attributes an item has beside its record's fields.
const KEY_ATTRIBUTES: [&str; 6] = ["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"];

pub(super) fn item(document: &Document) -> Result<Item> {
    let mut item: Item = to_item(&document.body).map_err(|e| Error::internal("dynamodb: encoding a record", e))?;
    item.extend(Key::of(&document.key).into_item());
    for index in [Index::First, Index::Second] {
        if let Some(entry) = document.index(index) {
            add_index_keys(&mut item, index, entry);
        }
    }
    if let Some(expires_at) = document.expires_at {
        item.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(ttl_seconds(expires_at).to_string()));
        item.insert(VALID_UNTIL.into(), AttributeValue::S(sortable_time(expires_at)?));
    }
    Ok(item)
}

fn add_index_keys(item: &mut Item, index: Index, entry: &IndexEntry) {
    let name = index_name(index);
    item.insert(format!("{name}PK"), AttributeValue::S(entry.partition.clone()));
    item.insert(format!("{name}SK"), AttributeValue::S(entry.sort.clone()));
}

/// The epoch second after which TTL may delete a record expiring at `at` (rounded up).
fn ttl_seconds(at: OffsetDateTime) -> i64 {
    at.unix_timestamp() + i64::from(at.nanosecond() > 0)
}

/// The record's fields of a stored item: the key attributes dropped and, for an expiring
/// record, `expires_at` its exact expiry again.
pub(super) fn body(mut item: Item) -> Result<Value> {
    for attribute in KEY_ATTRIBUTES {
        item.remove(attribute);
    }
    if let Some(valid_until) = item.remove(VALID_UNTIL) {
        item.insert(TTL_ATTRIBUTE.into(), valid_until);
    }
    from_item(item).map_err(|e| Error::internal("dynamodb: decoding a stored record", e))
}
