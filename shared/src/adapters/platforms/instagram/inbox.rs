//! Instagram's inbox: comments and mentions arrive by push (Graph webhooks), so nothing is
//! polled; a comment on the account's media is answered with a reply
//! (<https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment/replies>,
//! `POST /{ig-comment-id}/replies` with `message`). A mention is answered on the mentioning
//! media instead, and a DM through the Send API: both come with push. An account pushes only once
//! the app is subscribed to it
//! (<https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/webhooks>:
//! `POST /{ig-user-id}/subscribed_apps` with `subscribed_fields`; `DELETE` ends it); the fields
//! beyond those are chosen in the app dashboard.

use async_trait::async_trait;

use super::Instagram;
use crate::adapters::platforms::graph::Success;
use crate::model::inbox::InteractionKind;
use crate::model::platforms::Platform;
use crate::ports::platforms::{ChannelAuth, InboxClient, PlatformError, Published, ReplyTarget};

#[async_trait]
impl InboxClient for Instagram {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    fn subscribes_to_push(&self) -> bool {
        true
    }

    async fn subscribe_push(&self, auth: &ChannelAuth) -> Result<(), PlatformError> {
        let graph = self.graph(auth);
        let answer: Success =
            graph.post(&[graph.channel(), "subscribed_apps"], &[("subscribed_fields", "comments,messages")]).await?;
        answer.confirmed("subscribing the app to the account")
    }

    async fn unsubscribe_push(&self, auth: &ChannelAuth) -> Result<(), PlatformError> {
        let graph = self.graph(auth);
        graph.delete(&[graph.channel(), "subscribed_apps"]).await
    }

    fn replies_to(&self, kind: InteractionKind) -> bool {
        kind == InteractionKind::Comment
    }

    async fn reply(&self, auth: &ChannelAuth, to: &ReplyTarget, text: &str) -> Result<Published, PlatformError> {
        self.graph(auth).answer(&to.platform_id, "replies", text).await
    }
}
