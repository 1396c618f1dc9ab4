//! The production Queue adapter: an SQS queue whose RedrivePolicy moves a message to its
//! dead-letter queue after `max_receives` receives. SQS counts in whole seconds: delays and
//! visibility timeouts are rounded up, long-poll waits rounded down (and capped at 20 s).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::model::error::{Error, Result};
use crate::ports::queue::{MAX_BATCH, MAX_SEND_DELAY, MAX_VISIBILITY, Queue, QueueMessage, Receipt};

/// SQS's limit on a long poll.
const MAX_WAIT: Duration = Duration::from_secs(20);

pub struct SqsQueue {
    client: Client,
    queue_url: String,
    /// Found from the queue's RedrivePolicy on first use.
    dead_letter_url: OnceCell<String>,
}

/// The part of a queue's `RedrivePolicy` attribute this adapter reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RedrivePolicy {
    dead_letter_target_arn: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into(), dead_letter_url: OnceCell::new() }
    }

    /// Creates, if they do not exist, the queue `name` and its dead-letter queue `<name>-dlq`.
    pub async fn ensure(client: Client, name: &str, max_receives: u32) -> Result<Self> {
        let dead_letter_url = create_queue(&client, &format!("{name}-dlq"), None).await?;
        let dead_letter_arn = queue_arn(&client, &dead_letter_url).await?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dead_letter_arn,
            "maxReceiveCount": max_receives,
        });
        let queue_url = create_queue(&client, name, Some(redrive.to_string())).await?;
        Ok(Self { client, queue_url, dead_letter_url: OnceCell::new_with(Some(dead_letter_url)) })
    }

    async fn dead_letter_url(&self) -> Result<&str> {
        self.dead_letter_url
            .get_or_try_init(|| find_dead_letter_queue(&self.client, &self.queue_url))
            .await
            .map(String::as_str)
    }

    async fn receive_from(
        &self,
        queue_url: &str,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<QueueMessage>> {
        let max = max.min(MAX_BATCH);
        if max == 0 {
            return Ok(Vec::new());
        }
        let output = self
            .client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max as i32) // at most MAX_BATCH
            .visibility_timeout(seconds_up(visibility.min(MAX_VISIBILITY)))
            .wait_time_seconds(seconds(wait.min(MAX_WAIT)))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(sdk_error("receiving from sqs"))?;
        output.messages().iter().map(read_message).collect()
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<()> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(seconds_up(delay.min(MAX_SEND_DELAY)))
            .send()
            .await
            .map_err(sdk_error("sending to sqs"))?;
        Ok(())
    }

    async fn receive(&self, max: usize, visibility: Duration, wait: Duration) -> Result<Vec<QueueMessage>> {
        self.receive_from(&self.queue_url, max, visibility, wait).await
    }

    async fn change_visibility(&self, receipt: &Receipt, visibility: Duration) -> Result<()> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(&receipt.0)
            .visibility_timeout(seconds_up(visibility.min(MAX_VISIBILITY)))
            .send()
            .await
            .map_err(sdk_error("changing an sqs message's visibility"))?;
        Ok(())
    }

    async fn delete(&self, receipt: &Receipt) -> Result<()> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(&receipt.0)
            .send()
            .await
            .map_err(sdk_error("deleting an sqs message"))?;
        Ok(())
    }

    async fn receive_dead_letters(&self, max: usize, visibility: Duration) -> Result<Vec<QueueMessage>> {
        let dead_letter_url = self.dead_letter_url().await?;
        self.receive_from(dead_letter_url, max, visibility, Duration::ZERO).await
    }
}

async fn create_queue(client: &Client, name: &str, redrive_policy: Option<String>) -> Result<String> {
    client
        .create_queue()
        .queue_name(name)
        .set_attributes(redrive_policy.map(|policy| [(QueueAttributeName::RedrivePolicy, policy)].into()))
        .send()
        .await
        .map_err(sdk_error("creating an sqs queue"))?
        .queue_url
        .ok_or_else(|| Error::internal("creating an sqs queue", "no queue url in the answer"))
}

/// One attribute of the queue at `queue_url`.
async fn queue_attribute(client: &Client, queue_url: &str, name: QueueAttributeName) -> Result<String> {
    client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(name.clone())
        .send()
        .await
        .map_err(sdk_error("reading sqs queue attributes"))?
        .attributes
        .and_then(|mut attributes| attributes.remove(&name))
        .ok_or_else(|| Error::internal("reading sqs queue attributes", format!("no {name} attribute")))
}

async fn queue_arn(client: &Client, queue_url: &str) -> Result<String> {
    queue_attribute(client, queue_url, QueueAttributeName::QueueArn).await
}

/// The URL of the dead-letter queue named in the RedrivePolicy of the queue at `queue_url`.
async fn find_dead_letter_queue(client: &Client, queue_url: &str) -> Result<String> {
    let policy = queue_attribute(client, queue_url, QueueAttributeName::RedrivePolicy).await?;
    let policy: RedrivePolicy =
        serde_json::from_str(&policy).map_err(|e| Error::internal("reading the sqs redrive policy", e))?;
    let name = policy.dead_letter_target_arn.rsplit(':').next().unwrap_or_default();
    client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(sdk_error("finding the sqs dead-letter queue"))?
        .queue_url
        .ok_or_else(|| Error::internal("finding the sqs dead-letter queue", "no queue url in the answer"))
}

fn read_message(message: &Message) -> Result<QueueMessage> {
    let missing = |field| Error::internal("receiving from sqs", format!("message without {field}"));
    let receive_count = message
        .attributes()
        .and_then(|attributes| attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|count| count.parse().ok())
        .ok_or_else(|| missing("ApproximateReceiveCount"))?;
    Ok(QueueMessage {
        body: message.body().ok_or_else(|| missing("a body"))?.to_owned(),
        receipt: Receipt(message.receipt_handle().ok_or_else(|| missing("a receipt handle"))?.to_owned()),
        receive_count,
    })
}

fn sdk_error<E: std::error::Error>(context: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::internal(context, DisplayErrorContext(e))
}

/// Whole seconds, rounded down (the durations passed here are capped well below `i32::MAX`).
fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)
}

/// Whole seconds, rounded up, so a message is never visible before the time asked for.
fn seconds_up(duration: Duration) -> i32 {
    seconds(duration.saturating_add(Duration::from_nanos(999_999_999)))
}
