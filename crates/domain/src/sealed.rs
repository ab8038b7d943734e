//! Open answers and comments as the database stores them: sealed with an AEAD
//! (XChaCha20-Poly1305) under a key derived from the round key `K_r`.
//!
//! Why: a dump of the database (or a WAL segment, or a backup) taken while a round
//! is open shows the rows in the order they were written, so plaintext would tell
//! who answered what to anyone who knows when each person answered. Sealed, a row
//! shows only its round and node. Once the round key is destroyed at close, no key
//! exists that opens them.
//!
//! What a sealed value leaks, and why it is made not to:
//! - its length: answers are one byte per item (a round asks every person the same
//!   items, so every answer of a round has the same length); comments are padded to
//!   a multiple of [`COMMENT_BLOCK`] bytes;
//! - where it belongs: the node is authenticated (associated data), so a row cannot
//!   be moved to another node or swapped between the answer and comment tables.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::NodeId;

/// Comments are padded to a multiple of this many bytes before sealing.
pub const COMMENT_BLOCK: usize = 256;
const NONCE_LEN: usize = 24;

/// The sealing key of one round's open answers and comments.
#[derive(Clone)]
pub struct AnswerSeal(XChaCha20Poly1305);

impl std::fmt::Debug for AnswerSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AnswerSeal(..)")
    }
}

/// What was sealed: the label and node that must match when opening.
#[derive(Clone, Copy)]
enum Table {
    Answers,
    Comment,
}

impl Table {
    fn associated_data(self, node: NodeId) -> [u8; 24] {
        let mut data = [0u8; 24];
        data[..8].copy_from_slice(match self {
            Table::Answers => b"answers.",
            Table::Comment => b"comment.",
        });
        data[8..].copy_from_slice(node.0.as_bytes());
        data
    }
}

impl AnswerSeal {
    pub(crate) fn new(key: &[u8; 32]) -> AnswerSeal {
        AnswerSeal(XChaCha20Poly1305::new(key.into()))
    }

    /// Seals a respondent's answers (one byte per item, in the round's item order).
    pub fn seal_answers(&self, node: NodeId, values: &[u8]) -> Vec<u8> {
        self.seal(Table::Answers, node, values)
    }

    /// The answers of a sealed row, or `None` when it does not open under this key
    /// and node (not this round's, moved, or tampered with).
    pub fn open_answers(&self, node: NodeId, sealed: &[u8]) -> Option<Vec<u8>> {
        self.open(Table::Answers, node, sealed)
    }

    /// Seals a comment, padded so its length says little about the text.
    pub fn seal_comment(&self, node: NodeId, text: &str) -> Vec<u8> {
        let bytes = text.as_bytes();
        // Comments are at most a few thousand characters (the form checks), so the
        // length fits in four bytes with room to spare.
        let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let mut padded =
            Vec::with_capacity((bytes.len() + 4).div_ceil(COMMENT_BLOCK) * COMMENT_BLOCK);
        padded.extend_from_slice(&length.to_be_bytes());
        padded.extend_from_slice(bytes);
        padded.resize(padded.len().div_ceil(COMMENT_BLOCK) * COMMENT_BLOCK, 0);
        self.seal(Table::Comment, node, &padded)
    }

    pub fn open_comment(&self, node: NodeId, sealed: &[u8]) -> Option<String> {
        let padded = self.open(Table::Comment, node, sealed)?;
        let length = u32::from_be_bytes(padded.get(..4)?.try_into().ok()?) as usize;
        let text = padded.get(4..4 + length)?;
        String::from_utf8(text.to_vec()).ok()
    }

    fn seal(&self, table: Table, node: NodeId, plaintext: &[u8]) -> Vec<u8> {
        // 24-byte random nonces: collisions are negligible however many rows a key seals.
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let associated = table.associated_data(node);
        let ciphertext = self
            .0
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &associated,
                },
            )
            .expect("XChaCha20-Poly1305 seals any message shorter than 256 GiB");
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    fn open(&self, table: Table, node: NodeId, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let associated = table.associated_data(node);
        self.0
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &associated,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(byte: u8) -> AnswerSeal {
        AnswerSeal::new(&[byte; 32])
    }

    #[test]
    fn answers_open_with_the_same_key_and_node_only() {
        let node = NodeId::random();
        let sealed = seal(1).seal_answers(node, &[5, 3, 7]);
        assert_eq!(seal(1).open_answers(node, &sealed), Some(vec![5, 3, 7]));
        assert_eq!(
            seal(2).open_answers(node, &sealed),
            None,
            "another round's key"
        );
        assert_eq!(
            seal(1).open_answers(NodeId::random(), &sealed),
            None,
            "another node"
        );
        assert_eq!(seal(1).open_comment(node, &sealed), None, "another table");
    }

    #[test]
    fn a_sealed_answer_contains_no_plaintext_and_differs_every_time() {
        let node = NodeId::random();
        let values = [7u8, 7, 7, 7, 7, 7, 7, 7];
        let first = seal(1).seal_answers(node, &values);
        let second = seal(1).seal_answers(node, &values);
        assert_ne!(first, second, "random nonces");
        assert!(!first.windows(values.len()).any(|window| window == values));
    }

    #[test]
    fn comments_round_trip_and_their_length_is_padded() {
        let node = NodeId::random();
        let short = seal(1).seal_comment(node, "ok");
        let longer = seal(1).seal_comment(node, &"ä".repeat(100));
        assert_eq!(short.len(), longer.len(), "both pad to one block");
        assert_eq!(seal(1).open_comment(node, &short).as_deref(), Some("ok"));
        let long = "x".repeat(COMMENT_BLOCK * 3);
        let sealed = seal(1).seal_comment(node, &long);
        assert_eq!(seal(1).open_comment(node, &sealed), Some(long));
    }

    #[test]
    fn tampered_or_truncated_rows_do_not_open() {
        let node = NodeId::random();
        let mut sealed = seal(1).seal_answers(node, &[1, 2]);
        assert_eq!(seal(1).open_answers(node, &sealed[..10]), None);
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(seal(1).open_answers(node, &sealed), None);
    }
}
