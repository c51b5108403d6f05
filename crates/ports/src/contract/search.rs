//! Search: the index must give the same answers as reading every message, whatever wrote or removed them.

use super::{Repositories, at, conversation, owner};
use crate::{Conversation, ConversationId, Message, MessageMatch, MessageRole, SearchText, UserId};

/// A small deterministic generator (xorshift), so a failure replays exactly.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % below as u64).unwrap()
    }

    /// Text over an alphabet with case pairs, accents, spaces, SQL wildcards and quotes.
    fn text(&mut self, max: usize) -> String {
        const ALPHABET: &[char] = &['a', 'b', 'A', 'B', 'é', 'É', ' ', '%', '_', '"', 'x'];
        let len = 1 + self.roll(max);
        (0..len)
            .map(|_| ALPHABET[self.roll(ALPHABET.len())])
            .collect()
    }
}

/// What a search must answer, read the plain way: every message of every conversation of `user`.
async fn scan(
    repos: &Repositories,
    user: UserId,
    text: &SearchText,
    limit: usize,
) -> Vec<MessageMatch> {
    let mut all = Vec::new();
    for summary in repos
        .conversations
        .list_for_owner(user, false)
        .await
        .unwrap()
    {
        let c = summary.conversation;
        for m in repos.messages.list_for_conversation(c.id).await.unwrap() {
            if text.matches(&m.content) {
                all.push(MessageMatch {
                    conversation_id: c.id,
                    conversation_title: c.title.clone(),
                    message_id: m.id,
                    role: m.role,
                    content: m.content,
                    created_at: m.created_at,
                });
            }
        }
    }
    all.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.message_id)));
    all.truncate(limit);
    all
}

/// Random appends, deletes, redos, copies (import and fork) and conversation deletes, for two users; after each
/// step, searches for random texts (short ones too) answer exactly what a scan of the messages answers, and
/// never another user's message.
pub async fn search_answers_what_a_scan_answers_after_any_change(repos: Repositories) {
    let users = [owner(&repos, "alice").await, owner(&repos, "bob").await];
    let mut conversations: Vec<Conversation> = Vec::new();
    for (i, user) in users.iter().enumerate() {
        conversations.push(conversation(&repos, *user, i as u64).await);
    }
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    let mut clock = 10;
    for step in 0..120 {
        clock += 1 + dice.roll(3) as u64;
        let c = conversations[dice.roll(conversations.len())].clone();
        match dice.roll(10) {
            0..=4 => {
                let mut m = Message::user(c.id, dice.text(12), at(clock));
                if dice.roll(2) == 0 {
                    m.role = MessageRole::Assistant;
                }
                repos.messages.append(&m).await.unwrap();
            }
            5 => {
                let messages = repos.messages.list_for_conversation(c.id).await.unwrap();
                if !messages.is_empty() {
                    let doomed = &messages[dice.roll(messages.len())];
                    assert!(repos.messages.delete(c.id, doomed.id).await.unwrap());
                }
            }
            6 => {
                let messages = repos.messages.list_for_conversation(c.id).await.unwrap();
                if messages.len() >= 2 {
                    let replacement = Message::user(c.id, dice.text(12), at(clock));
                    assert!(
                        repos
                            .messages
                            .replace_exchange(c.id, messages[1].id, messages[0].id, &replacement)
                            .await
                            .unwrap()
                    );
                }
            }
            7 | 8 => {
                // An import or a fork: a new conversation arriving with its messages in one write.
                let mut copy = Conversation::new(c.user_id, at(clock));
                copy.title = dice.text(6);
                let messages: Vec<Message> = repos
                    .messages
                    .list_for_conversation(c.id)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|m| Message {
                        id: crate::MessageId::new(),
                        conversation_id: copy.id,
                        ..m
                    })
                    .collect();
                repos
                    .conversations
                    .create_with_contents(&copy, &messages, &[])
                    .await
                    .unwrap();
                conversations.push(copy);
            }
            _ => {
                if conversations.len() > 2 {
                    let doomed = conversations.remove(dice.roll(conversations.len()));
                    assert!(repos.conversations.delete(doomed.id).await.unwrap());
                }
            }
        }
        for _ in 0..3 {
            let text = SearchText::new(&dice.text(4)).unwrap();
            let limit = 1 + dice.roll(8);
            for user in users {
                let found = repos
                    .conversations
                    .search_messages(user, &text, limit)
                    .await
                    .unwrap();
                assert_eq!(
                    found,
                    scan(&repos, user, &text, limit).await,
                    "step {step}: search for {:?} (limit {limit})",
                    text.as_str()
                );
            }
        }
    }
}

/// Titles match ignoring case, most recently updated first, with the first message to jump to; other users'
/// titles never match.
pub async fn titles_match_ignoring_case_with_their_first_message(repos: Repositories) {
    let alice = owner(&repos, "alice").await;
    let bob = owner(&repos, "bob").await;
    let mut older = Conversation::new(alice, at(1));
    "Sales by REGION".clone_into(&mut older.title);
    let first = Message::user(older.id, "hello", at(1));
    let second = Message::user(older.id, "again", at(2));
    repos
        .conversations
        .create_with_contents(&older, &[second.clone(), first.clone()], &[])
        .await
        .unwrap();
    let mut newer = Conversation::new(alice, at(5));
    "regional costs".clone_into(&mut newer.title);
    repos.conversations.create(&newer).await.unwrap();
    let mut theirs = Conversation::new(bob, at(9));
    "Region".clone_into(&mut theirs.title);
    repos.conversations.create(&theirs).await.unwrap();

    let text = SearchText::new("Region").unwrap();
    let found = repos
        .conversations
        .search_titles(alice, &text, 10)
        .await
        .unwrap();
    let ids: Vec<ConversationId> = found.iter().map(|t| t.conversation_id).collect();
    assert_eq!(ids, [newer.id, older.id]);
    assert_eq!(found[0].first_message, None);
    assert_eq!(found[1].first_message, Some((first.id, MessageRole::User)));
    assert_eq!(
        repos
            .conversations
            .search_titles(alice, &text, 1)
            .await
            .unwrap()
            .len(),
        1
    );
}
