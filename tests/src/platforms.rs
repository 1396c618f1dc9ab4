//! What the platform adapter suites share: the outbound client with the unsafe loopback setting
//! (fakes run on 127.0.0.1 over http), a channel pointing at a fake, images served from a fake's
//! own route, a fake that reads the multipart forms adapters upload, and for connecting accounts:
//! OAuth apps, matchers of form-encoded bodies, the query of a consent URL, and a channel list
//! read page after page.

use std::collections::HashMap;
use std::sync::Arc;

use posthorn::adapters::outbound::{OutboundClient, SystemResolver, UrlGuard};
use posthorn::model::platforms::MediaItem;
use posthorn::ports::platforms::{
    AuthorizeRequest, ChannelAuth, CodeExchange, Connector, OAuthApp, PlatformError, Profile, PublishRequest,
    RemoteChannel,
};
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

/// The token every fake expects.
pub const TOKEN: &str = "token-abc";
pub const BEARER: &str = "Bearer token-abc";

/// A 1×1 transparent PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0b, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0x7a, 0x5e, 0xab, 0x3f, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The one outbound client, allowed to reach loopback fakes over http.
pub fn outbound() -> OutboundClient {
    OutboundClient::new(UrlGuard::new(Arc::new(SystemResolver), true), &[]).expect("outbound client")
}

/// A channel whose API is `server`.
pub fn channel(server: &MockServer, platform_channel_id: &str) -> ChannelAuth {
    channel_at(&server.uri(), platform_channel_id)
}

pub fn channel_at(base_url: &str, platform_channel_id: &str) -> ChannelAuth {
    ChannelAuth {
        base_url: base_url.to_string(),
        access_token: TOKEN.to_string(),
        platform_channel_id: platform_channel_id.to_string(),
    }
}

/// The base URL of a media host shared by every test of the process, on a thread of its own (so
/// it outlives each test's runtime): `GET /{width}x{height}/{name}` answers a JPEG of that size,
/// whatever the name; it ignores `Range`, as many hosts do.
pub fn shared_media_host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                listener.set_nonblocking(true).expect("non-blocking");
                let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let router = axum::Router::new().route("/{size}/{name}", axum::routing::get(sized_jpeg));
                axum::serve(listener, router).await.expect("the media host serves");
            });
        });
        base_url
    })
}

async fn sized_jpeg(axum::extract::Path((size, _)): axum::extract::Path<(String, String)>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some((width, height)) = size.split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?))) else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    ([("content-type", "image/jpeg")], jpeg(width, height)).into_response()
}

/// A plain `width`×`height` JPEG.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let pixels = image::RgbImage::from_pixel(width, height, image::Rgb([200, 80, 40]));
    let mut bytes = Vec::new();
    pixels.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Jpeg).expect("a JPEG");
    bytes
}

/// A base URL nothing listens on.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    format!("http://127.0.0.1:{port}")
}

/// A post to a target of its own (retries reuse the request, and so the target).
pub fn text_post(text: &str) -> PublishRequest {
    post_with_media(text, Vec::new())
}

pub fn post_with_media(text: &str, media: Vec<MediaItem>) -> PublishRequest {
    PublishRequest { target_key: new_target_key(), text: text.to_string(), media, resume_from: None }
}

/// A target key no other request has: `{post id}:{channel id}` as the pipeline makes them.
pub fn new_target_key() -> String {
    format!("post_{}:ch_test", ulid::Ulid::new())
}

/// Serves [`PNG`] at `route` of a media host and returns the item pointing at it.
pub async fn image_at(host: &MockServer, route: &str, alt: Option<&str>) -> MediaItem {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).insert_header("content-type", "image/png").set_body_bytes(PNG))
        .mount(host)
        .await;
    MediaItem::new(format!("{}{route}", host.uri()), alt.map(str::to_string))
}

/// Serves `bytes` as `content_type` at `route` of a media host and returns the item pointing
/// at it.
pub async fn bytes_at(host: &MockServer, route: &str, content_type: &str, bytes: Vec<u8>) -> MediaItem {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).insert_header("content-type", content_type).set_body_bytes(bytes))
        .mount(host)
        .await;
    MediaItem::new(format!("{}{route}", host.uri()), None)
}

/// A `width`×`height` PNG of noise, which compresses badly: a large file from a small picture.
pub fn noisy_png(width: u32, height: u32) -> Vec<u8> {
    let mut seed = 7u32;
    let pixels = image::RgbImage::from_fn(width, height, |_, _| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        image::Rgb([(seed >> 16) as u8, (seed >> 8) as u8, seed as u8])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    pixels.write_to(&mut bytes, image::ImageFormat::Png).expect("encode a PNG");
    bytes.into_inner()
}

/// Whether a multipart request has a field `name` whose value contains `value`.
pub fn form_field(name: &'static str, value: &'static [u8]) -> impl Fn(&Request) -> bool + Send + Sync + 'static {
    move |request: &Request| {
        let header = format!("name=\"{name}\"");
        let body = &request.body;
        find(body, header.as_bytes()).is_some_and(|at| find(&body[at..], value).is_some())
    }
}

/// Whether a multipart request carries the bytes of [`PNG`].
pub fn carries_png(request: &Request) -> bool {
    find(&request.body, PNG).is_some()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Posthorn's client on a platform: confidential with `secret`, public (PKCE only) without.
pub fn oauth_app(client_id: &str, secret: Option<&str>) -> OAuthApp {
    OAuthApp { client_id: client_id.to_string(), client_secret: secret.map(str::to_string) }
}

/// Where every test's user comes back to, with [`STATE`] and, from the platform, [`CODE`].
pub const REDIRECT: &str = "https://app.example.com/callback";
pub const STATE: &str = "state-789";
pub const CODE: &str = "code-123";

/// The consent page `connector` sends the user of `app` to (back to [`REDIRECT`] with
/// [`STATE`]), and its query.
pub fn consent(
    connector: &dyn Connector,
    app: &OAuthApp,
    pkce_challenge: Option<&str>,
) -> Result<(String, HashMap<String, String>), PlatformError> {
    let request = AuthorizeRequest {
        app,
        base_url: connector.default_base_url(),
        redirect_uri: REDIRECT,
        state: STATE,
        pkce_challenge,
    };
    let parsed = url::Url::parse(&connector.authorization_url(&request)?).expect("an absolute URL");
    let query = parsed.query_pairs().into_owned().collect();
    let mut page = parsed;
    page.set_query(None);
    Ok((page.to_string(), query))
}

/// `pairs` as the map [`consent`] returns.
pub fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
}

/// The platform's redirect back with [`CODE`], to exchange at the API at `base_url`.
pub fn callback<'a>(app: &'a OAuthApp, base_url: &'a str) -> CodeExchange<'a> {
    CodeExchange { app, base_url, redirect_uri: REDIRECT, code: CODE, identifier: None, pkce_verifier: None }
}

/// Matches a request whose `application/x-www-form-urlencoded` body is exactly `fields`, in any
/// order.
pub struct FormIs(Vec<(String, String)>);

pub fn form_is(fields: &[(&str, &str)]) -> FormIs {
    let mut fields: Vec<_> = fields.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
    fields.sort();
    FormIs(fields)
}

impl Match for FormIs {
    fn matches(&self, request: &Request) -> bool {
        let mut sent: Vec<(String, String)> = url::form_urlencoded::parse(&request.body).into_owned().collect();
        sent.sort();
        sent == self.0
    }
}

/// Every channel `connector` lists, following each page's cursor, and how many pages it took.
pub async fn every_channel(
    connector: &dyn Connector,
    auth: &ChannelAuth,
    profile: &Profile,
) -> Result<(Vec<RemoteChannel>, usize), PlatformError> {
    let (mut channels, mut pages, mut from) = (Vec::new(), 0, None);
    loop {
        let page = connector.list_channels(auth, profile, from.as_deref()).await?;
        channels.extend(page.channels);
        pages += 1;
        match page.next {
            Some(next) => from = Some(next),
            None => return Ok((channels, pages)),
        }
    }
}
