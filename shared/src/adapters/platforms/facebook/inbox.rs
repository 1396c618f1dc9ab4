//! Facebook Pages' inbox: comments arrive by push (Graph webhooks), so nothing is polled; a
//! comment, or a post or comment mentioning the page, is answered with a comment on it as the
//! page (<https://developers.facebook.com/docs/graph-api/reference/object/comments/#publish>,
//! `POST /{object-id}/comments` with `message`, the page token). DM answers take the Send API,
//! which comes with the push of messages. A page pushes only once the app is subscribed to it
//! (<https://developers.facebook.com/docs/graph-api/reference/page/subscribed_apps/>:
//! `POST /{page-id}/subscribed_apps` with `subscribed_fields`, `DELETE` to end it, page token).

use async_trait::async_trait;

use super::Facebook;
use crate::adapters::platforms::graph::Success;
use crate::model::inbox::InteractionKind;
use crate::model::platforms::Platform;
use crate::ports::platforms::{ChannelAuth, InboxClient, PlatformError, Published, ReplyTarget};

/// The page fields the inbox reads (see `push::meta`).
const PAGE_FIELDS: &str = "feed,mention,messages,message_echoes,message_deliveries,message_reads,messaging_referrals";

#[async_trait]
impl InboxClient for Facebook {
    fn platform(&self) -> Platform {
        Platform::Facebook
    }

    fn subscribes_to_push(&self) -> bool {
        true
    }

    async fn subscribe_push(&self, auth: &ChannelAuth) -> Result<(), PlatformError> {
        let graph = self.graph(auth);
        let answer: Success =
            graph.post(&[graph.channel(), "subscribed_apps"], &[("subscribed_fields", PAGE_FIELDS)]).await?;
        answer.confirmed("subscribing the app to the page")
    }

    async fn unsubscribe_push(&self, auth: &ChannelAuth) -> Result<(), PlatformError> {
        let graph = self.graph(auth);
        graph.delete(&[graph.channel(), "subscribed_apps"]).await
    }

    fn replies_to(&self, kind: InteractionKind) -> bool {
        kind != InteractionKind::Dm
    }

    async fn reply(&self, auth: &ChannelAuth, to: &ReplyTarget, text: &str) -> Result<Published, PlatformError> {
        self.graph(auth).answer(&to.platform_id, "comments", text).await
    }
}
