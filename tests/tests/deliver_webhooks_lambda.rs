//! The deliver-webhooks Lambda handler on real SQS batches (moto): delivered records are not
//! reported, records to retry are reported as batch item failures and stay hidden for their
//! delay, and a message the worker cannot read (not JSON, or JSON that is not a delivery) is
//! reported, never deleted, so it ends in the dead-letter queue after the queue's receive limit.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::http::{Method, StatusCode};
use posthorn::adapters::sqs::SqsQueue;
use posthorn::model::webhooks::{EventType, RetrySchedule};
use posthorn::services::webhooks::outbox::emit;
use posthorn_testkit::app::{TestApp, TestOptions};
use posthorn_testkit::aws;
use posthorn_testkit::receiver::{Receiver, Reply};
use serde_json::json;

struct Fixture {
    app: TestApp,
    queue_url: String,
    receiver: Receiver,
}

async fn fixture() -> Fixture {
    let name = aws::unique_name("deliveries");
    let queue = SqsQueue::ensure(aws::sqs().await, &name, 3).await.unwrap();
    let queue_url = aws::sqs().await.get_queue_url().queue_name(&name).send().await.unwrap().queue_url.unwrap();
    let options = TestOptions {
        retries: Some(RetrySchedule::parse("0,60").unwrap()),
        queue: Some(Arc::new(queue)),
        ..TestOptions::receiving()
    };
    let app = TestApp::with_options(|| vec![posthorn::api::webhooks::routes()], options).await;
    let receiver = Receiver::start().await;
    let body = json!({"url": receiver.url("/hooks"), "events": ["*"], "skip_verification": true});
    assert_eq!(app.call(Method::POST, "/v1/webhooks", Some(body)).await.status, StatusCode::CREATED);
    Fixture { app, queue_url, receiver }
}

/// Receives what SQS would hand the function, as the Lambda event.
async fn sqs_batch(queue_url: &str) -> SqsEvent {
    let received = aws::sqs()
        .await
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let mut event = SqsEvent::default();
    for message in received.messages.unwrap_or_default() {
        let mut record = SqsMessage::default();
        record.message_id = message.message_id;
        record.receipt_handle = message.receipt_handle;
        record.body = message.body;
        event.records.push(record);
    }
    event
}

#[tokio::test]
async fn delivered_records_are_not_reported_as_failures() {
    let fixture = fixture().await;
    emit(&fixture.app.state.outbox(), fixture.app.workspace_id, EventType::PostPublished, json!({"total": 1}))
        .await
        .unwrap();
    let batch = sqs_batch(&fixture.queue_url).await;
    assert_eq!(batch.records.len(), 1);

    let response = posthorn::lambda::deliver_batch(fixture.app.state.clone(), batch).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(fixture.receiver.received().len(), 1);
    assert!(sqs_batch(&fixture.queue_url).await.records.is_empty(), "the message was deleted");
}

#[tokio::test]
async fn a_record_to_retry_is_reported_and_hidden_for_its_delay() {
    let fixture = fixture().await;
    fixture.receiver.script([Reply::Status(500)]);
    emit(&fixture.app.state.outbox(), fixture.app.workspace_id, EventType::PostFailed, json!({"total": 1}))
        .await
        .unwrap();
    let batch = sqs_batch(&fixture.queue_url).await;
    let message_id = batch.records[0].message_id.clone().unwrap();

    let response = posthorn::lambda::deliver_batch(fixture.app.state.clone(), batch).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier, message_id);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(sqs_batch(&fixture.queue_url).await.records.is_empty(), "hidden until the ~60 s retry");
}

#[tokio::test]
async fn unreadable_messages_are_reported_and_dead_lettered() {
    let fixture = fixture().await;
    let sqs = aws::sqs().await;
    let unreadable = ["not a delivery", r#"{"workspace_id": "ws_01JD8Z3QK5V7Y2W9X4T6R8P0WS"}"#];
    for body in unreadable {
        sqs.send_message().queue_url(&fixture.queue_url).message_body(body).send().await.unwrap();
    }
    for receive in 1..=3 {
        let batch = sqs_batch_of(&fixture.queue_url, unreadable.len()).await;
        let receipts: Vec<String> = batch.records.iter().map(|record| record.receipt_handle.clone().unwrap()).collect();
        let response = posthorn::lambda::deliver_batch(fixture.app.state.clone(), batch).await;
        assert_eq!(response.batch_item_failures.len(), unreadable.len(), "receive {receive}: reported, not deleted");
        // Lambda would wait out the visibility timeout; the test hurries it.
        for receipt in receipts {
            sqs.change_message_visibility()
                .queue_url(&fixture.queue_url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
    }
    assert!(sqs_batch(&fixture.queue_url).await.records.is_empty(), "moved to the dead-letter queue");
    let dead = fixture.app.state.queue.receive_dead_letters(10, Duration::from_secs(30)).await.unwrap();
    let mut bodies: Vec<&str> = dead.iter().map(|message| message.body.as_str()).collect();
    bodies.sort();
    assert_eq!(bodies, unreadable);
    assert!(fixture.receiver.received().is_empty());
}

/// Receives until `count` records are in hand (moto may split a batch), as one Lambda event.
async fn sqs_batch_of(queue_url: &str, count: usize) -> SqsEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut event = SqsEvent::default();
    while event.records.len() < count {
        assert!(tokio::time::Instant::now() < deadline, "only {} of {count} records received", event.records.len());
        event.records.extend(sqs_batch(queue_url).await.records);
    }
    event
}
