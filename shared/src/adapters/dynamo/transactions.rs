//! Writes: each [`Write`] as one conditional PutItem or DeleteItem, or many as one
//! TransactWriteItems, retried while it collides with a concurrent transaction; and additions
//! as an UpdateItem that ADDs (atomic, so concurrent additions all count, and never a
//! transaction, so they never collide).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, Delete, Put, TransactWriteItem};

use crate::model::error::{Error, Result};
use crate::ports::store::{Addition, Condition, Document, Outcome, Write, check_transaction, sortable_time};

use super::items;
use super::table::{Key, VALID_UNTIL};
use super::{DynamoStore, Item};

/// How often a transaction that collided with a concurrent one on the same items is tried.
const TRANSACTION_ATTEMPTS: u32 = 5;
const TRANSACTION_RETRY_DELAY: Duration = Duration::from_millis(20);

/// A condition as a DynamoDB condition expression, with its names and values.
#[derive(Default)]
struct Expression {
    text: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<Item>,
}

impl Expression {
    fn of(condition: Condition) -> Result<Self> {
        let text = |text: &str| Some(text.to_string());
        Ok(match condition {
            Condition::Always => Self::default(),
            Condition::Absent => Self { text: text("attribute_not_exists(PK)"), ..Self::default() },
            Condition::Present => Self { text: text("attribute_exists(PK)"), ..Self::default() },
            Condition::Version(expected) => Self {
                text: text("attribute_exists(PK) AND #version = :expected"),
                names: Some([("#version".into(), "version".into())].into()),
                values: Some([(":expected".into(), AttributeValue::N(expected.to_string()))].into()),
            },
            Condition::AbsentOrExpiredBy(now) => Self {
                text: Some(format!("attribute_not_exists(PK) OR {VALID_UNTIL} <= :now")),
                names: None,
                values: Some([(":now".into(), AttributeValue::S(sortable_time(now)?))].into()),
            },
            Condition::InFirstIndex => Self { text: text("attribute_exists(GSI1PK)"), ..Self::default() },
        })
    }
}

/// An addition ([`RecordStore::add`](crate::ports::store::RecordStore::add)) as an update expression: every attribute of the document SET but its key
/// and the added fields, which are ADDed.
struct AddUpdate {
    key: Item,
    text: String,
    names: HashMap<String, String>,
    values: Item,
}

impl AddUpdate {
    fn of(document: &Document, additions: &[Addition]) -> Result<Self> {
        let key = Key::of(&document.key).into_item();
        let mut item = items::item(document)?;
        item.retain(|name, _| !key.contains_key(name) && !additions.iter().any(|a| a.field == name));
        let (mut names, mut values) = (HashMap::new(), Item::new());
        let mut sets = Vec::new();
        for (i, (name, value)) in item.into_iter().enumerate() {
            names.insert(format!("#s{i}"), name);
            values.insert(format!(":s{i}"), value);
            sets.push(format!("#s{i} = :s{i}"));
        }
        let mut adds = Vec::new();
        for (i, addition) in additions.iter().enumerate() {
            names.insert(format!("#a{i}"), addition.field.to_string());
            values.insert(format!(":a{i}"), AttributeValue::N(addition.amount.to_string()));
            adds.push(format!("#a{i} :a{i}"));
        }
        let clauses = [("SET", sets.join(", ")), ("ADD", adds.join(", "))];
        let text = clauses
            .iter()
            .filter(|(_, list)| !list.is_empty())
            .map(|(verb, list)| format!("{verb} {list}"))
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Self { key, text, names, values })
    }
}

/// `builder` (a put or delete, single or in a transaction) with `expression` as its condition.
macro_rules! conditioned {
    ($builder:expr, $expression:expr) => {{
        let expression: Expression = $expression;
        $builder
            .set_condition_expression(expression.text)
            .set_expression_attribute_names(expression.names)
            .set_expression_attribute_values(expression.values)
    }};
}

/// One write of a transaction on `table`.
fn transact_item(table: &str, write: &Write) -> Result<TransactWriteItem> {
    let expression = Expression::of(write.condition())?;
    let building = |e| Error::internal("dynamodb: building a transaction write", e);
    Ok(match write {
        Write::Put(document, _) => {
            let put = Put::builder().table_name(table).set_item(Some(items::item(document)?));
            TransactWriteItem::builder().put(conditioned!(put, expression).build().map_err(building)?).build()
        }
        Write::Delete(key, _) => {
            let delete = Delete::builder().table_name(table).set_key(Some(Key::of(key).into_item()));
            TransactWriteItem::builder().delete(conditioned!(delete, expression).build().map_err(building)?).build()
        }
    })
}

impl DynamoStore {
    /// One write as a single PutItem or DeleteItem (half the cost of a transaction).
    pub(super) async fn write_item(&self, write: Write) -> Result<Outcome> {
        let expression = Expression::of(write.condition())?;
        match &write {
            Write::Put(document, _) => {
                let put = self.client.put_item().table_name(&self.table).set_item(Some(items::item(document)?));
                self.conditional(conditioned!(put, expression).send().await, "PutItem")
            }
            Write::Delete(key, _) => {
                let delete = self.client.delete_item().table_name(&self.table).set_key(Some(Key::of(key).into_item()));
                self.conditional(conditioned!(delete, expression).send().await, "DeleteItem")
            }
        }
    }

    /// One addition as a single UpdateItem.
    pub(super) async fn add_item(&self, document: &Document, additions: &[Addition]) -> Result<()> {
        let add = AddUpdate::of(document, additions)?;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(add.key))
            .update_expression(add.text)
            .set_expression_attribute_names(Some(add.names))
            .set_expression_attribute_values(Some(add.values))
            .send()
            .await
            .map_err(|e| self.sdk_error("UpdateItem", e))?;
        Ok(())
    }

    /// The outcome of a conditional write: a failed condition refuses it.
    fn conditional<T, E>(&self, result: Result<T, SdkError<E>>, operation: &str) -> Result<Outcome>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match result {
            Ok(_) => Ok(Outcome::Written),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(Outcome::Refused { item: 0 }),
            Err(e) => Err(self.sdk_error(operation, e)),
        }
    }

    /// All `writes` in one TransactWriteItems, tried again while it collides with a concurrent
    /// transaction on the same items.
    pub(super) async fn transact_items(&self, writes: Vec<Write>) -> Result<Outcome> {
        check_transaction(&writes)?;
        if writes.is_empty() {
            return Ok(Outcome::Written);
        }
        let items = writes.iter().map(|write| transact_item(&self.table, write)).collect::<Result<Vec<_>>>()?;
        for attempt in 1..=TRANSACTION_ATTEMPTS {
            let result = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let error = match result {
                Ok(_) => return Ok(Outcome::Written),
                Err(error) => error,
            };
            match cancellation(&error) {
                Some(Cancelled::Refused { item }) => return Ok(Outcome::Refused { item }),
                Some(Cancelled::Collided) => tokio::time::sleep(TRANSACTION_RETRY_DELAY * attempt).await,
                None => return Err(self.sdk_error("TransactWriteItems", error)),
            }
        }
        Err(Error::Conflict(format!("a transaction collided with concurrent writes {TRANSACTION_ATTEMPTS} times")))
    }
}

/// Why DynamoDB cancelled a transaction, when it is a reason the core reports.
enum Cancelled {
    /// The condition of write `item` failed.
    Refused { item: usize },
    /// It collided with a concurrent transaction on the same items; trying again may succeed.
    Collided,
}

fn cancellation<R>(error: &SdkError<TransactWriteItemsError, R>) -> Option<Cancelled> {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error() else {
        return None;
    };
    let reasons = cancelled.cancellation_reasons();
    let code = |reason: &CancellationReason| reason.code().unwrap_or_default().to_string();
    if let Some(item) = reasons.iter().position(|reason| code(reason) == "ConditionalCheckFailed") {
        Some(Cancelled::Refused { item })
    } else if reasons.iter().any(|reason| code(reason) == "TransactionConflict") {
        Some(Cancelled::Collided)
    } else {
        None
    }
}
