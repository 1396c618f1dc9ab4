//! text-assist and media-assist (SPEC §7): `POST /functions/v1/text-assist` rewrites a text
//! (improve, shorten, expand, fix_grammar, hashtags, translate, tone, fit) and
//! `POST /functions/v1/media-assist` generates images from a prompt.

use std::sync::Arc;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{Caller, Data, FunctionRoutes, Json};
use crate::app::AppState;
use crate::model::error::{Error, ErrorBody, Result};
use crate::model::platforms::Platform;
use crate::model::usage::Limited;
use crate::ports::ai::{ChatRequest, GeneratedImage, IMAGE_SIZES, ImageRequest};
use crate::services::fit::{fit, limit_phrase};

const MAX_TEXT_CHARS: usize = 10_000;
const MAX_PROMPT_CHARS: usize = 4_000;
const MAX_OPTION_CHARS: usize = 50;
const MAX_IMAGES: u8 = 4;
const DEFAULT_SIZE: &str = "1024x1024";

/// The text-assist function's route.
pub fn text_assist_routes() -> FunctionRoutes {
    FunctionRoutes { prefix: "/functions/v1/text-assist", routes: OpenApiRouter::new().routes(routes!(text_assist)) }
}

/// The media-assist function's route.
pub fn media_assist_routes() -> FunctionRoutes {
    FunctionRoutes { prefix: "/functions/v1/media-assist", routes: OpenApiRouter::new().routes(routes!(media_assist)) }
}

/// What to do with the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Improve,
    Shorten,
    Expand,
    FixGrammar,
    Hashtags,
    /// Needs `language`.
    Translate,
    /// Needs `tone`.
    Tone,
    /// Needs `platform`: rewrite within that platform's limit.
    Fit,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextAssistRequest {
    text: String,
    action: Action,
    /// The language to translate into (`translate`).
    language: Option<String>,
    /// The tone to rewrite in, like `friendly` or `formal` (`tone`).
    tone: Option<String>,
    /// The platform whose limit the text must fit (`fit`).
    platform: Option<Platform>,
}

/// How a `fit` result measures against the platform.
#[derive(Debug, Serialize, ToSchema)]
pub struct FitReport {
    platform: Platform,
    /// The result's length in the platform's unit.
    length: usize,
    limit: usize,
    /// `characters` or `graphemes`.
    unit: &'static str,
    /// The model's text was still too long after a second request, and was cut.
    truncated: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TextAssistView {
    text: String,
    action: Action,
    /// `openai` or `offline`.
    provider: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fit: Option<FitReport>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaAssistRequest {
    prompt: String,
    /// One of 256x256, 512x512, 1024x1024 (default), 1792x1024, 1024x1792, 1536x1024, 1024x1536.
    size: Option<String>,
    /// How many images, 1–4 (default 1).
    n: Option<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MediaAssistView {
    /// The prompt the images were generated from.
    prompt: String,
    size: String,
    provider: &'static str,
    images: Vec<GeneratedImage>,
}

/// Rewrite a text with AI.
#[utoipa::path(post, path = "", tag = "ai", request_body = TextAssistRequest, security(("api_key" = ["ai"])),
    responses((status = 200, body = Data<TextAssistView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn text_assist(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<TextAssistRequest>,
) -> Result<axum::Json<Data<TextAssistView>>> {
    caller.admit(&state, Limited::Ai).await?;
    let text = request.text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::bad_request(format!("text must be 1 to {MAX_TEXT_CHARS} characters")));
    }
    let task = task(&request)?;
    let answer = state.ai.chat(&ChatRequest { system: system_prompt(&task), user: text.to_string() }).await?;
    let (text, fit) = match task {
        Task::Fit(platform) => {
            let fitted = fit(state.ai.as_ref(), platform, platform.limits(), answer).await?;
            let unit = platform.limits().unit.name();
            let report =
                FitReport { platform, length: fitted.length, limit: fitted.limit, unit, truncated: fitted.truncated };
            (fitted.text, Some(report))
        }
        _ => (answer, None),
    };
    Ok(axum::Json(Data { data: TextAssistView { text, action: request.action, provider: state.ai.name(), fit } }))
}

/// An action with the option it needs.
enum Task<'a> {
    /// What to ask the model, for an action without options.
    Plain(&'static str),
    Translate(&'a str),
    Tone(&'a str),
    Fit(Platform),
}

/// The action with its option; a missing option, or one the action does not use, is a 400.
fn task(request: &TextAssistRequest) -> Result<Task<'_>> {
    let task = match request.action {
        Action::Translate => Task::Translate(option("language", &request.language)?),
        Action::Tone => Task::Tone(option("tone", &request.tone)?),
        Action::Fit => Task::Fit(request.platform.ok_or_else(|| Error::bad_request("platform is required for fit"))?),
        Action::Improve => Task::Plain("Improve this social-media post: clearer, more engaging, same meaning."),
        Action::Shorten => Task::Plain("Shorten this social-media post to about half its length, same meaning."),
        Action::Expand => Task::Plain("Expand this social-media post with useful detail, keeping its voice."),
        Action::FixGrammar => {
            Task::Plain("Fix the spelling, grammar and punctuation of this social-media post; change nothing else.")
        }
        Action::Hashtags => {
            Task::Plain("Add three to five relevant hashtags to the end of this social-media post; keep the text.")
        }
    };
    let unused = [
        ("language", request.language.is_some() && !matches!(task, Task::Translate(_))),
        ("tone", request.tone.is_some() && !matches!(task, Task::Tone(_))),
        ("platform", request.platform.is_some() && !matches!(task, Task::Fit(_))),
    ];
    match unused.iter().find(|(_, unused)| *unused) {
        Some((name, _)) => Err(Error::bad_request(format!("{name} is not used by this action"))),
        None => Ok(task),
    }
}

/// A required option of an action, trimmed and of bounded length.
fn option<'a>(name: &str, value: &'a Option<String>) -> Result<&'a str> {
    let value = value.as_deref().map(str::trim).unwrap_or_default();
    if value.is_empty() || value.chars().count() > MAX_OPTION_CHARS {
        return Err(Error::bad_request(format!("{name} must be 1 to {MAX_OPTION_CHARS} characters for this action")));
    }
    Ok(value)
}

fn system_prompt(task: &Task<'_>) -> String {
    let job = match task {
        Task::Plain(job) => (*job).to_string(),
        Task::Translate(language) => format!("Translate this social-media post into {language}."),
        Task::Tone(tone) => format!("Rewrite this social-media post in a {tone} tone, same meaning."),
        Task::Fit(platform) => {
            format!("Rewrite this social-media post to fit {}.", limit_phrase(*platform, &platform.limits()))
        }
    };
    format!("{job} Answer with the resulting post only: no preamble, no quotes, no explanation.")
}

/// Generate images from a prompt.
#[utoipa::path(post, path = "", tag = "ai", request_body = MediaAssistRequest, security(("api_key" = ["ai"])),
    responses((status = 200, body = Data<MediaAssistView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn media_assist(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<MediaAssistRequest>,
) -> Result<axum::Json<Data<MediaAssistView>>> {
    caller.admit(&state, Limited::Ai).await?;
    let prompt = request.prompt.trim().to_string();
    if prompt.is_empty() || prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(Error::bad_request(format!("prompt must be 1 to {MAX_PROMPT_CHARS} characters")));
    }
    let size = request.size.unwrap_or_else(|| DEFAULT_SIZE.into());
    if !IMAGE_SIZES.contains(&size.as_str()) {
        return Err(Error::bad_request(format!("size must be one of {}", IMAGE_SIZES.join(", "))));
    }
    let n = request.n.unwrap_or(1);
    if !(1..=MAX_IMAGES).contains(&n) {
        return Err(Error::bad_request(format!("n must be between 1 and {MAX_IMAGES}")));
    }
    let images = state.ai.images(&ImageRequest { prompt: prompt.clone(), size: size.clone(), n }).await?;
    Ok(axum::Json(Data { data: MediaAssistView { prompt, size, provider: state.ai.name(), images } }))
}
