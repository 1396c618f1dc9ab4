//! Instagram's inbox: comments and mentions arrive by push (Graph webhooks), so nothing is
//! polled; a comment on the account's media is answered with a reply
//! (<https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment/replies>,
//! `POST /{ig-comment-id}/replies` with `message`). A mention is answered on the mentioning
//! media instead, and a DM through the Send API: both come with push.

use async_trait::async_trait;

use super::Instagram;
use crate::model::inbox::InteractionKind;
use crate::model::platforms::Platform;
use crate::ports::platforms::{ChannelAuth, InboxClient, PlatformError, Published, ReplyTarget};

#[async_trait]
impl InboxClient for Instagram {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    fn replies_to(&self, kind: InteractionKind) -> bool {
        kind == InteractionKind::Comment
    }

    async fn reply(&self, auth: &ChannelAuth, to: &ReplyTarget, text: &str) -> Result<Published, PlatformError> {
        self.graph(auth).answer(&to.platform_id, "replies", text).await
    }
}
