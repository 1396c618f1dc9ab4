//! The local server: every function's routes on one port, the delivery worker and the
//! process-queue, sync-post-metrics and sync-inbox schedules in-process, with the embedded store and queue under `./.posthorn/`.
//! On first start it creates a workspace and prints its API key once. Ctrl-C or SIGTERM shuts it
//! down gracefully.

use std::sync::Arc;
use std::time::Duration;

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, Method};
use posthorn::api::combined_router;
use posthorn::app::AppState;
use posthorn::config::Config;
use posthorn::telemetry::{LogTarget, init_logging};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Lambda runs process-queue every minute; locally a shorter period makes schedules feel exact.
const PROCESS_QUEUE_PERIOD: Duration = Duration::from_secs(5);
/// How many deliveries the worker attempts at once.
const DELIVERIES_IN_FLIGHT: usize = 64;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging(LogTarget::Terminal);
    let config = Config::from_env()?;
    let key = posthorn::dev::encryption_key(&config)?;
    let state = Arc::new(AppState::from_config(&config, &key).await?);
    if let Some(first) = posthorn::dev::bootstrap(&state).await? {
        println!("\nCreated the first workspace. Its API key (shown only this once):\n\n    {}\n", first.api_key);
        println!("Sandbox channels to post to (they publish nowhere; see the README):\n");
        for channel in &first.sandbox_channels {
            println!("    {}  {} ({})", channel.id, channel.name, channel.platform_channel_id);
        }
        println!();
    }

    let (stop, stopping) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(posthorn::jobs::run_local(state.clone(), DELIVERIES_IN_FLIGHT, stopping.clone()));
    let schedule =
        tokio::spawn(posthorn::jobs::run_periodically(state.clone(), PROCESS_QUEUE_PERIOD, stopping.clone()));
    let metrics =
        tokio::spawn(posthorn::jobs::sync_metrics_periodically(state.clone(), config.metrics, stopping.clone()));
    let inbox = tokio::spawn(posthorn::jobs::sync_inbox_periodically(state.clone(), config.inbox, stopping));

    let router = with_cors(combined_router(posthorn::dev::http_functions(), state), &config.cors_allowed_origins)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    println!("Posthorn dev server on http://{}", config.listen);
    axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await?;

    stop.send(true)?;
    worker.await?;
    schedule.await?;
    metrics.await?;
    inbox.await?;
    Ok(())
}

/// Lets browsers on the configured origins call the API (none by default): what the template's
/// HTTP API does when deployed.
fn with_cors(router: axum::Router, origins: &[String]) -> Result<axum::Router, Box<dyn std::error::Error>> {
    if origins.is_empty() {
        return Ok(router);
    }
    let origins = origins.iter().map(|origin| HeaderValue::from_str(origin)).collect::<Result<Vec<_>, _>>()?;
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE, HeaderName::from_static("idempotency-key")])
        .expose_headers([RETRY_AFTER])
        .max_age(Duration::from_secs(600));
    Ok(router.layer(cors))
}

/// Ctrl-C, or SIGTERM (what `kill`, systemd and container runtimes send): either stops taking
/// requests, lets in-flight deliveries finish and leaves the rest queued for the next start.
async fn shutdown_signal() {
    let interrupted = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = interrupted => {}
        () = terminated() => {}
    }
}

#[cfg(unix)]
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut terminate) => {
            terminate.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminated() {
    std::future::pending().await
}
