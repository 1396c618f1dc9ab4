//! The inboxes of LinkedIn, Threads, Facebook and Instagram on both stores, against fakes that
//! answer as each platform documents: LinkedIn's comments on an organization's posts
//! (`socialActions/{urn}/comments`, newest first, `start`/`count`) and its comments on comments;
//! Threads' replies and mentions with their `after` cursors and the reply container; the Graph
//! API's comment answers of Facebook pages and Instagram. Each item fires once however often it
//! is read, and a DM on a platform whose API lets no app answer it gets a 422 naming the platform.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use posthorn::adapters::platforms::versions::{LINKEDIN, META_GRAPH};
use posthorn::adapters::platforms::{PlatformRegistry, Threads};
use posthorn::model::channels::{Channel, ChannelKind};
use posthorn::model::inbox::{Author, Direction, InteractionKind};
use posthorn::model::platforms::Platform;
use posthorn::ports::clock::Clock;
use posthorn::ports::platforms::RemoteInteraction;
use posthorn_testkit::graph_fake::{fast_polling, form};
use posthorn_testkit::on_both_stores;
use posthorn_testkit::platform_inbox::{Account, ChannelOf, InboxFixture};
use posthorn_testkit::platforms::{BEARER, TOKEN, outbound};
use posthorn_testkit::stores::StoreKind;
use serde_json::{Value, json};
use time::OffsetDateTime;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

on_both_stores!(
    linkedin_comments_on_an_organizations_posts_arrive_once_and_are_answered_on_the_comment,
    threads_replies_and_mentions_arrive_once_and_are_answered_with_a_reply_container,
    facebook_and_instagram_comments_are_answered_through_the_graph_api,
    dms_no_app_may_answer_get_a_422_naming_the_platform,
);

const ORGANIZATION: &str = "urn:li:organization:2414183";
const SHARE: &str = "urn:li:share:6844785523593134080";
const ACTIVITY: &str = "urn:li:activity:6844785523593134080";

fn encoded(urn: &str) -> String {
    url::form_urlencoded::byte_serialize(urn.as_bytes()).collect()
}

/// A post's comments as `GET /rest/socialActions/{urn}/comments` lists them: newest first, a
/// page of `count` from `start`, with `paging`; the version headers required.
#[derive(Clone, Default)]
struct Comments(Arc<Mutex<Vec<Value>>>);

impl Comments {
    fn add(&self, id: u64, actor: &str, text: &str, at: OffsetDateTime) -> String {
        let urn = format!("urn:li:comment:({ACTIVITY},{id})");
        let millis = (at.unix_timestamp_nanos() / 1_000_000) as i64;
        self.0.lock().unwrap().push(json!({
            "actor": actor, "commentUrn": urn, "id": id.to_string(), "object": ACTIVITY, "$URN": urn,
            "created": {"actor": actor, "time": millis}, "lastModified": {"actor": actor, "time": millis},
            "message": {"text": text, "attributes": []},
            "likesSummary": {"selectedLikes": [], "aggregatedTotalLikes": 0, "likedByCurrentUser": false, "totalLikes": 0},
            "commentsSummary": {"selectedComments": [], "totalFirstLevelComments": 0, "aggregatedTotalComments": 0}
        }));
        urn
    }
}

impl Respond for Comments {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let header = |name: &str| request.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default();
        if header("linkedin-version") != LINKEDIN.version || header("x-restli-protocol-version") != "2.0.0" {
            return ResponseTemplate::new(426).set_body_json(
                json!({"status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version is not active"}),
            );
        }
        let query: std::collections::HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let start: usize = query.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
        let count: usize = query.get("count").and_then(|c| c.parse().ok()).unwrap_or(10);
        let mut all = self.0.lock().unwrap().clone();
        all.sort_by_key(|comment| std::cmp::Reverse(comment["created"]["time"].as_i64()));
        let page: Vec<Value> = all.iter().skip(start).take(count).cloned().collect();
        ResponseTemplate::new(200).set_body_json(
            json!({"paging": {"start": start, "count": count, "total": all.len(), "links": []}, "elements": page}),
        )
    }
}

async fn linkedin_comments_on_an_organizations_posts_arrive_once_and_are_answered_on_the_comment(kind: StoreKind) {
    let f = InboxFixture::start(kind).await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .respond_with(ResponseTemplate::new(201).insert_header("x-restli-id", SHARE))
        .mount(&server)
        .await;
    let comments = Comments::default();
    Mock::given(method("GET"))
        .and(path(format!("/rest/socialActions/{}/comments", encoded(SHARE))))
        .and(header("authorization", BEARER))
        .respond_with(comments.clone())
        .mount(&server)
        .await;
    let account = Account {
        platform: Platform::Linkedin,
        base_url: &server.uri(),
        platform_user_id: "8675309",
        username: "Ada",
        access_token: TOKEN,
        expires_at: None,
    };
    let channel = ChannelOf { platform_channel_id: ORGANIZATION, kind: ChannelKind::Organization, token: None };
    let channel = f.connect(account, channel).await;
    let before = f.clock.now() - time::Duration::hours(1);
    comments.add(1, "urn:li:person:old", "from before the connection", before);
    let post_id = f.publish(&channel, "Launch!").await;

    let first = f.sync().await;
    assert_eq!((first.interactions, first.failed), (0, 0), "{first:?}");
    f.clock.advance(time::Duration::minutes(10));
    let congratulations = comments.add(2, "urn:li:person:ada", "Congratulations!", f.clock.now());
    comments.add(3, ORGANIZATION, "Thank you all", f.clock.now());
    let second = f.sync().await;
    assert_eq!((second.interactions, second.failed), (1, 0), "our own comment is not news: {second:?}");
    let comment = &f.verified("comment.received", 1).await[0]["data"];
    assert_eq!(comment["platform_id"], congratulations);
    assert_eq!(comment["post_id"], post_id);
    assert_eq!(comment["content"]["text"], "Congratulations!");
    assert_eq!(comment["author"]["id"], "urn:li:person:ada");

    f.clock.advance(time::Duration::minutes(10));
    let again = f.sync().await;
    assert_eq!((again.interactions, again.duplicates), (0, 1), "the overlap is read again, fires nothing: {again:?}");

    let created = json!({"actor": ORGANIZATION, "commentUrn": format!("urn:li:comment:({ACTIVITY},4)"), "id": "4",
        "object": ACTIVITY, "parentComment": congratulations, "message": {"text": "Thanks, Ada!"},
        "created": {"actor": ORGANIZATION, "time": 1}});
    Mock::given(method("POST"))
        .and(path(format!("/rest/socialActions/{}/comments", encoded(&congratulations))))
        .and(header("linkedin-version", LINKEDIN.version))
        .and(body_json(json!({"actor": ORGANIZATION, "object": ACTIVITY, "message": {"text": "Thanks, Ada!"},
            "parentComment": congratulations})))
        .respond_with(ResponseTemplate::new(201).set_body_json(created))
        .expect(1)
        .mount(&server)
        .await;
    let answer = f.reply(comment["id"].as_str().unwrap(), "Thanks, Ada!").await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(answer.body["data"]["platform_id"], format!("urn:li:comment:({ACTIVITY},4)"));
    assert_eq!(answer.body["data"]["post_id"], post_id);
}

const THREADS_USER: &str = "25000000000000001";
const THREADS_POST: &str = "18028000000000001";

/// Media objects of one edge (`replies` of a post, `mentions` of the user): a page of `limit`
/// after the `after` cursor, newest first, those before `since` left out where given.
#[derive(Clone, Default)]
struct Edge(Arc<Mutex<Vec<Value>>>);

impl Edge {
    fn add(&self, id: &str, username: &str, text: &str, at: OffsetDateTime, replied_to: Option<&str>) {
        let timestamp =
            at.format(&time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+0000"));
        let mut media = json!({"id": id, "text": text, "username": username, "timestamp": timestamp.unwrap(),
            "permalink": format!("https://www.threads.net/@{username}/post/{id}"), "media_type": "TEXT_POST",
            "is_reply_owned_by_me": username == "posthorn"});
        if let Some(parent) = replied_to {
            media["replied_to"] = json!({"id": parent});
            media["root_post"] = json!({"id": parent});
        }
        self.0.lock().unwrap().push(media);
    }
}

impl Respond for Edge {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query: std::collections::HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        assert_eq!(query.get("access_token").map(String::as_str), Some(TOKEN));
        assert!(query["fields"].split(',').any(|field| field == "timestamp"), "{query:?}");
        let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
        let offset: usize = query.get("after").and_then(|a| a.strip_prefix("QVFI")?.parse().ok()).unwrap_or(0);
        let since: i64 = query.get("since").and_then(|s| s.parse().ok()).unwrap_or(0);
        let at = |media: &Value| {
            let text = media["timestamp"].as_str().unwrap().replace("+0000", "Z");
            OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339).unwrap().unix_timestamp()
        };
        let mut all: Vec<Value> = self.0.lock().unwrap().iter().filter(|media| at(media) >= since).cloned().collect();
        all.sort_by_key(|media| std::cmp::Reverse(at(media)));
        let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
        let mut body = json!({"data": page});
        if !page.is_empty() {
            body["paging"] = json!({"cursors": {"before": format!("QVFI{offset}"), "after": format!("QVFI{}", offset + page.len())}});
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

async fn mount_container_flow(server: &MockServer, extra: Option<(&str, &str)>, container: &str, published: &str) {
    let mut create =
        Mock::given(method("POST")).and(path(format!("/v1.0/{THREADS_USER}/threads"))).and(form("media_type", "TEXT"));
    if let Some((name, value)) = extra {
        create = create.and(form(name, value));
    }
    create
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": container})))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{container}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "FINISHED", "id": container})))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads_publish")))
        .and(form("creation_id", container))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": published})))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{published}")))
        .and(query_param("fields", "permalink"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"permalink": format!("https://www.threads.net/@posthorn/post/{published}")})),
        )
        .mount(server)
        .await;
}

async fn threads_replies_and_mentions_arrive_once_and_are_answered_with_a_reply_container(kind: StoreKind) {
    let threads = Arc::new(Threads::new(outbound()).with_polling(fast_polling()));
    let registry = PlatformRegistry::new(vec![threads.clone()]).with_inboxes(vec![threads]);
    let f = InboxFixture::with_platforms(kind, registry).await;
    let server = MockServer::start().await;
    mount_container_flow(&server, None, "17890000000000001", THREADS_POST).await;
    let (replies, mentions) = (Edge::default(), Edge::default());
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{THREADS_POST}/replies")))
        .respond_with(replies.clone())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{THREADS_USER}/mentions")))
        .respond_with(mentions.clone())
        .mount(&server)
        .await;
    let base_url = format!("{}/v1.0", server.uri());
    let account = Account {
        platform: Platform::Threads,
        base_url: &base_url,
        platform_user_id: THREADS_USER,
        username: "posthorn",
        access_token: TOKEN,
        expires_at: None,
    };
    let channel = ChannelOf { platform_channel_id: THREADS_USER, kind: ChannelKind::Profile, token: None };
    let channel = f.connect(account, channel).await;
    let post_id = f.publish(&channel, "Launch!").await;
    mentions.add("18028000000000002", "grace", "old news @posthorn", f.clock.now() - time::Duration::hours(2), None);

    let first = f.sync().await;
    assert_eq!((first.interactions, first.failed), (0, 0), "{first:?}");
    f.clock.advance(time::Duration::minutes(5));
    let now = f.clock.now();
    replies.add("18028000000000010", "ada", "Congratulations!", now, Some(THREADS_POST));
    replies.add("18028000000000011", "posthorn", "our own answer", now, Some(THREADS_POST));
    mentions.add("18028000000000012", "grace", "have you seen @posthorn?", now, None);
    for n in 0..120 {
        replies.add(&format!("1802810000000{n:04}"), "linus", &format!("reply {n}"), now, Some(THREADS_POST));
    }
    let second = f.sync_through().await;
    assert_eq!((second.interactions, second.failed), (122, 0), "two pages of replies and a mention: {second:?}");
    let comments = f.verified("comment.received", 121).await;
    let comment = comments.iter().find(|event| event["data"]["platform_id"] == "18028000000000010").unwrap();
    assert_eq!(comment["data"]["post_id"], post_id);
    assert_eq!(comment["data"]["author"]["username"], "ada");
    assert_eq!(comment["data"]["platform_url"], "https://www.threads.net/@ada/post/18028000000000010");
    assert_eq!(f.verified("mention.received", 1).await[0]["data"]["platform_id"], "18028000000000012");
    f.clock.advance(time::Duration::minutes(5));
    let again = f.sync().await;
    assert_eq!(again.interactions, 0, "{again:?}");

    mount_container_flow(&server, Some(("reply_to_id", "18028000000000010")), "17890000000000002", "18028000000000020")
        .await;
    let answer = f.reply(comment["data"]["id"].as_str().unwrap(), "Thank you!").await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(answer.body["data"]["platform_id"], "18028000000000020");
    assert_eq!(answer.body["data"]["platform_url"], "https://www.threads.net/@posthorn/post/18028000000000020");
}

fn pushed(kind: InteractionKind, platform_id: &str) -> RemoteInteraction {
    RemoteInteraction {
        kind,
        direction: Direction::Inbound,
        platform_id: platform_id.to_string(),
        in_reply_to: None,
        author: Author {
            id: "17841400000000001".into(),
            name: "Ada".into(),
            username: Some("ada".into()),
            avatar_url: None,
        },
        text: "Love it!".into(),
        media: Vec::new(),
        created_at: OffsetDateTime::now_utc(),
        url: None,
        reply_handle: None,
        referral: None,
    }
}

async fn meta_channel(
    f: &InboxFixture,
    server: &MockServer,
    platform: Platform,
    id: &str,
    token: Option<&str>,
) -> Channel {
    let base_url = format!("{}/{}", server.uri(), META_GRAPH.version);
    let account = Account {
        platform,
        base_url: &base_url,
        platform_user_id: "10150000000000001",
        username: "posthorn",
        access_token: "EAAG-user-token",
        expires_at: None,
    };
    f.connect(account, ChannelOf { platform_channel_id: id, kind: ChannelKind::Page, token }).await
}

async fn facebook_and_instagram_comments_are_answered_through_the_graph_api(kind: StoreKind) {
    let f = InboxFixture::start(kind).await;
    let server = MockServer::start().await;
    let version = META_GRAPH.version;
    Mock::given(method("POST"))
        .and(path(format!("/{version}/123456789_987654321/comments")))
        .and(form("message", "Thanks, Ada!"))
        .and(form("access_token", "EAAG-page-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "123456789_987654399"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/{version}/17858893269000001/replies")))
        .and(form("message", "Thanks, Ada!"))
        .and(form("access_token", "EAAG-user-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "17858893269000002"})))
        .expect(1)
        .mount(&server)
        .await;
    let page = meta_channel(&f, &server, Platform::Facebook, "123456789", Some("EAAG-page-token")).await;
    let instagram = meta_channel(&f, &server, Platform::Instagram, "17841405822304914", None).await;

    let on_page = f.arrived(&page, pushed(InteractionKind::Comment, "123456789_987654321")).await;
    let answer = f.reply(&on_page, "Thanks, Ada!").await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(answer.body["data"]["platform_id"], "123456789_987654399");
    let on_media = f.arrived(&instagram, pushed(InteractionKind::Comment, "17858893269000001")).await;
    let answer = f.reply(&on_media, "Thanks, Ada!").await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(answer.body["data"]["platform_id"], "17858893269000002");
    assert_eq!(f.sync().await.channels, 0, "pushed platforms are not polled");
}

async fn dms_no_app_may_answer_get_a_422_naming_the_platform(kind: StoreKind) {
    let f = InboxFixture::start(kind).await;
    let server = MockServer::start().await;
    let page = meta_channel(&f, &server, Platform::Facebook, "123456789", Some("EAAG-page-token")).await;
    let instagram = meta_channel(&f, &server, Platform::Instagram, "17841405822304914", None).await;
    let account = |platform| Account {
        platform,
        base_url: "https://api.example.com",
        platform_user_id: "1",
        username: "posthorn",
        access_token: TOKEN,
        expires_at: None,
    };
    let linkedin = ChannelOf { platform_channel_id: ORGANIZATION, kind: ChannelKind::Organization, token: None };
    let linkedin = f.connect(account(Platform::Linkedin), linkedin).await;
    let threads = ChannelOf { platform_channel_id: THREADS_USER, kind: ChannelKind::Profile, token: None };
    let threads = f.connect(account(Platform::Threads), threads).await;
    let cases = [
        (&page, InteractionKind::Dm, "facebook does not let apps answer a dm through its API"),
        (&instagram, InteractionKind::Dm, "instagram does not let apps answer a dm through its API"),
        (&instagram, InteractionKind::Mention, "instagram does not let apps answer a mention through its API"),
        (&linkedin, InteractionKind::Dm, "linkedin does not let apps answer a dm through its API"),
        (&threads, InteractionKind::Dm, "threads does not let apps answer a dm through its API"),
    ];
    for (n, (channel, kind, says)) in cases.into_iter().enumerate() {
        let id = f.arrived(channel, pushed(kind, &format!("m-{n}"))).await;
        let refused = f.reply(&id, "Hello").await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused:?}");
        assert_eq!(refused.error(), says);
    }
    assert!(server.received_requests().await.unwrap().is_empty(), "no platform was called");
}
